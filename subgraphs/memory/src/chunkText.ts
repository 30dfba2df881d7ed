export interface Chunk {
  /** Position in the document, from 0. */
  ordinal: number;
  /** `text.slice(start, end)` of the document. */
  text: string;
  start: number;
  end: number;
}

export interface ChunkOptions {
  /** Target characters per chunk; a chunk is never longer. */
  size: number;
  /** Characters a chunk shares with the one before it (about; it starts at a word boundary). */
  overlap: number;
}

/**
 * Splits `text` into chunks of at most `size` characters, each starting about `overlap`
 * characters before the previous one ended. A chunk ends at the last paragraph break, sentence
 * end or space in its second half when there is one, so words and usually sentences stay whole;
 * offsets always refer to the original text. Whitespace-only chunks are dropped.
 *
 * @example chunkText('a b c', { size: 3, overlap: 1 }) // [{ text: 'a b', start: 0, end: 3, ... }, ...]
 */
export function chunkText(text: string, { size, overlap }: ChunkOptions): Chunk[] {
  if (!(size >= 1) || !(overlap >= 0) || overlap >= size) {
    throw new RangeError(`chunk size ${size} and overlap ${overlap}: need size >= 1 and 0 <= overlap < size`);
  }
  const chunks: Chunk[] = [];
  let start = skipSpace(text, 0);
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    if (end < text.length) end = breakPoint(text, start, end);
    const trimmedEnd = trimEnd(text, start, end);
    if (trimmedEnd > start) {
      chunks.push({ ordinal: chunks.length, text: text.slice(start, trimmedEnd), start, end: trimmedEnd });
    }
    if (end >= text.length) break;
    // Step back by `overlap`, then forward to the next word start (never to or before `start`).
    let next = Math.max(end - overlap, start + 1);
    if (overlap > 0) {
      while (next > start + 1 && next < end && !/\s/.test(text[next - 1]!)) next++;
    }
    start = skipSpace(text, next);
  }
  return chunks;
}

/** The best place to end a chunk in (start, hardEnd]: paragraph > sentence > word > hard cut. */
function breakPoint(text: string, start: number, hardEnd: number): number {
  const min = start + Math.floor((hardEnd - start) / 2);
  const window = text.slice(min, hardEnd);
  const paragraph = window.lastIndexOf('\n\n');
  if (paragraph >= 0) return min + paragraph + 2;
  const sentence = Math.max(
    window.lastIndexOf('. '),
    window.lastIndexOf('? '),
    window.lastIndexOf('! '),
    window.lastIndexOf('.\n'),
  );
  if (sentence >= 0) return min + sentence + 2;
  const space = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\n'));
  if (space >= 0) return min + space + 1;
  return hardEnd;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

function trimEnd(text: string, start: number, end: number): number {
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return end;
}
