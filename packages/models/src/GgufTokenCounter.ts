import type { ChatMessage } from '@somaagent/ports';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { chatPromptTokenizer } from './chatPromptTokens';

/** Counts tokens as a model's tokenizer does, for engines that report no counts of their own. */
export interface TokenCounter {
  /** Tokens of the prompt the engine evaluates for these messages (chat template applied). */
  countPrompt(messages: ChatMessage[]): Promise<number>;
  /** Tokens of generated text. */
  countText(text: string): Promise<number>;
}

interface Vocabulary {
  llama: Llama;
  model: LlamaModel;
  promptTokens: (messages: ChatMessage[]) => unknown[];
}

/**
 * The tokenizer of a GGUF file (the served model's, or any GGUF with the same vocabulary and
 * chat template), loaded vocabulary-only through node-llama-cpp on first use: no weights, a few
 * MB and tens of milliseconds. For OpenAI-compatible servers that send no running counts (vLLM,
 * gateways), so a stream cut short is counted with the model's own tokenizer instead of guessed.
 */
export class GgufTokenCounter implements TokenCounter, AsyncDisposable {
  private vocabulary?: Promise<Vocabulary>;

  constructor(private readonly modelPath: string) {}

  async countPrompt(messages: ChatMessage[]): Promise<number> {
    return (await this.load()).promptTokens(messages).length;
  }

  async countText(text: string): Promise<number> {
    if (text === '') return 0;
    // A continuation, not the start of a text: no SentencePiece word-start space is added to it.
    return (await this.load()).model.tokenize(text, false, 'trimLeadingSpace').length;
  }

  private load(): Promise<Vocabulary> {
    this.vocabulary ??= this.open().catch((error) => {
      this.vocabulary = undefined;
      throw error;
    });
    return this.vocabulary;
  }

  private async open(): Promise<Vocabulary> {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: this.modelPath, vocabOnly: true });
    return { llama, model, promptTokens: await chatPromptTokenizer(model, this.modelPath) };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const vocabulary = await this.vocabulary?.catch(() => undefined);
    this.vocabulary = undefined;
    await vocabulary?.model.dispose();
  }
}
