import { BUILTIN_TOOLS } from '../builtinTools';
import { StepInputError } from '../stepErrors';
import type { StepExecutor } from './StepExecutor';

/** `toolCall`: a built-in tool until the tools domain exists; its call is kept in capsules.tool_invocations. */
export const toolCallStep: StepExecutor = {
  async execute(args, { info }) {
    const spec = args.spec;
    const tool = BUILTIN_TOOLS[String(spec.tool)];
    if (!tool) {
      throw new StepInputError(
        `unknown tool "${String(spec.tool)}": available are ${Object.keys(BUILTIN_TOOLS).join(', ')} until the tools domain exists`,
      );
    }
    return tool((spec.args as Record<string, unknown>) ?? {}, info);
  },
  async record(tx, args, output) {
    await tx.query(
      `INSERT INTO capsules.tool_invocations (tenant_id, run_id, step_key, tool, args, result)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, step_key) DO NOTHING`,
      [
        args.tenantId,
        args.runId,
        args.key,
        String(args.spec.tool),
        JSON.stringify(args.spec.args ?? {}),
        JSON.stringify(output ?? null),
      ],
    );
  },
};
