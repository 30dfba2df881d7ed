import { GgufTokenCounter, OpenAICompatibleChatModel } from '@somaagent/models';
import type { ChatChunk, ChatMessage } from '@somaagent/ports';

const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
const servedModelFile = process.env.SOMA_LLM_TOKENIZER_GGUF;

export interface Counted {
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** How the counts were confirmed, for the test's log line. */
export interface OracleVerdict {
  by: 'replay' | 'tokenizer';
  /** Replays tried (each greedy, exactly `completionTokens` long). */
  replays: number;
  /** The last replay, whatever its text. */
  replay: Counted;
}

async function replayOnce(messages: ChatMessage[], completionTokens: number): Promise<Counted> {
  const chunks: ChatChunk[] = [];
  for await (const c of OpenAICompatibleChatModel.fromUrl(baseUrl!, apiKey).stream({
    model: model!,
    messages,
    maxTokens: completionTokens,
    temperature: 0,
  }))
    chunks.push(c);
  const usage = chunks.find((c) => c.type === 'usage') as Extract<ChatChunk, { type: 'usage' }>;
  return {
    text: chunks.map((c) => (c.type === 'delta' ? c.text : '')).join(''),
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
  };
}

/**
 * Confirms that `stored` holds the engine's own counts for its text. First oracle: the engine
 * itself — greedy decoding asked for exactly `completionTokens` tokens of the same messages
 * must give back exactly the stored text, with the same counts. llama-server evaluates
 * concurrent requests in one batch, and a batch's size can change the floating-point sums and
 * so a greedy pick: while other tests share the server, either stream may have been computed
 * beside others. So the replay is tried up to `attempts` times; if none reproduces the text, the
 * second oracle decides: the served model's own tokenizer (the GGUF llama-server serves) must
 * count the stored prompt exactly, and the stored text within one token per thousand (re-tokenizing
 * generated text can split or merge a token the sampler produced whole: 1,501 for 1,500 sampled
 * tokens of this untrained model, exact at 100 and 500). Returns which oracle agreed; throws with
 * both figures when neither does.
 */
export async function confirmEngineCounts(
  messages: ChatMessage[],
  stored: Counted,
  attempts = 3,
): Promise<OracleVerdict> {
  if (!baseUrl || !model || !servedModelFile)
    throw new Error(
      'the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL, SOMA_LLM_TOKENIZER_GGUF)',
    );
  let replay: Counted | undefined;
  for (let i = 1; i <= attempts; i++) {
    replay = await replayOnce(messages, stored.completionTokens);
    if (replay.text === stored.text) {
      if (
        replay.promptTokens !== stored.promptTokens ||
        replay.completionTokens !== stored.completionTokens
      ) {
        throw new Error(
          `the engine's replay has the stored text but counts ${replay.promptTokens} + ${replay.completionTokens}, stored ${stored.promptTokens} + ${stored.completionTokens}`,
        );
      }
      return { by: 'replay', replays: i, replay };
    }
  }
  const counter = new GgufTokenCounter(servedModelFile);
  try {
    const [promptTokens, completionTokens] = await Promise.all([
      counter.countPrompt(messages),
      counter.countText(stored.text),
    ]);
    const slack = Math.ceil(stored.completionTokens / 1_000);
    if (
      promptTokens === stored.promptTokens &&
      Math.abs(completionTokens - stored.completionTokens) <= slack
    ) {
      return { by: 'tokenizer', replays: attempts, replay: replay! };
    }
    throw new Error(
      `stored ${stored.promptTokens} + ${stored.completionTokens} tokens: ${attempts} greedy replays of that length gave other text, and the served model's tokenizer counts ${promptTokens} + ${completionTokens}`,
    );
  } finally {
    await counter[Symbol.asyncDispose]();
  }
}
