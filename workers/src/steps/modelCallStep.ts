import { StepInputError } from '../stepErrors';
import type { StepExecutor } from './StepExecutor';

/** Deltas between two STEP_PROGRESS events of a streaming model call. */
const PROGRESS_EVERY_DELTAS = 16;

/** `modelCall`: streams the ChatModel port's answer, reporting progress, and returns text, usage and finish reason. */
export const modelCallStep: StepExecutor = {
  ensureRunnable(deps) {
    if (!deps.chat)
      throw new StepInputError('no model provider is configured for capsule runs (SOMA_LLM_BASE_URL)');
  },
  async execute(args, { deps, info, progress }) {
    if (!deps.chat) throw new StepInputError('no model provider is configured for capsule runs');
    const spec = args.spec;
    let text = '';
    let usage: Record<string, number> = {};
    let finish = 'stop';
    let sinceProgress = 0;
    const messages = [
      ...(spec.system ? [{ role: 'system' as const, content: String(spec.system) }] : []),
      { role: 'user' as const, content: String(spec.prompt) },
    ];
    for await (const chunk of deps.chat.model.stream({
      model: String(spec.model ?? deps.chat.defaultModel),
      messages,
      maxTokens: Number(spec.maxTokens ?? 256),
      ...(spec.temperature !== undefined ? { temperature: Number(spec.temperature) } : {}),
      signal: info.signal,
    })) {
      if (chunk.type === 'delta') {
        text += chunk.text;
        if (++sinceProgress >= PROGRESS_EVERY_DELTAS) {
          sinceProgress = 0;
          await progress({ characters: text.length });
        }
      } else if (chunk.type === 'usage')
        usage = { promptTokens: chunk.promptTokens, completionTokens: chunk.completionTokens };
      else finish = chunk.reason;
    }
    return { text, ...usage, finishReason: finish };
  },
};
