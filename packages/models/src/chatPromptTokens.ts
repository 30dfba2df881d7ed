import type { ChatMessage } from '@somaagent/ports';
import type { LlamaModel, Token } from 'node-llama-cpp';

/**
 * Renders a chat with the model's own chat template (tokenizer.chat_template) and tokenizes the
 * text in one piece, special tokens parsed and BOS prepended as the vocabulary asks: what
 * llama-server does, so every counter agrees with it on the prompt. (node-llama-cpp's
 * JinjaTemplateChatWrapper tokenizes segment by segment, which adds SentencePiece word-start
 * spaces the template does not have.)
 */
export async function chatPromptTokenizer(
  model: LlamaModel,
  path: string,
): Promise<(messages: ChatMessage[]) => Token[]> {
  const { Template } = await import('@huggingface/jinja');
  const source = model.fileInfo.metadata.tokenizer.chat_template;
  if (!source) throw new Error(`${path} has no chat template (tokenizer.chat_template)`);
  const template = new Template(source);
  const { bos, bosString, eosString, shouldPrependBosToken } = model.tokens;
  return (messages) => {
    const text = template.render({
      messages,
      add_generation_prompt: true,
      bos_token: bosString ?? '',
      eos_token: eosString ?? '',
    });
    const tokens = model.tokenize(text, true);
    return shouldPrependBosToken && bos !== null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
  };
}
