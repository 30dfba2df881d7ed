import type { ChatMessage } from '@somaagent/ports';
import type { Recalled } from './ModelAccess';

/** The prompt of one answer: persona, recalled memory, recent history, the new message. */
export const promptOf = (
  systemPrompt: string,
  recalled: Recalled | null,
  history: ChatMessage[],
  content: string,
): ChatMessage[] => [
  ...(systemPrompt ? [{ role: 'system' as const, content: systemPrompt }] : []),
  ...(recalled && recalled.passages.length > 0
    ? [
        {
          role: 'system' as const,
          content: `Relevant memory; cite it as [n] when you use it:\n${recalled.text}`,
        },
      ]
    : []),
  ...history,
  { role: 'user', content },
];

/** Whether two prompts are the same messages (a guessed prompt against the stored history's). */
export const samePrompt = (a: ChatMessage[], b: ChatMessage[]) =>
  a.length === b.length && a.every((m, i) => m.role === b[i]!.role && m.content === b[i]!.content);
