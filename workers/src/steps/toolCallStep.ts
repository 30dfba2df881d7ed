import { BUILTIN_TOOLS } from '../builtinTools';
import { StepInputError } from '../stepErrors';
import type { StepExecutor } from './StepExecutor';

/** `toolCall`: a built-in tool until the tools domain exists; its call is recorded as the step's tool invocation. */
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
  record(args, output) {
    return {
      kind: 'toolInvocation',
      tool: String(args.spec.tool),
      args: args.spec.args ?? {},
      result: output,
    };
  },
};
