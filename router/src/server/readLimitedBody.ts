import type { IncomingMessage } from 'node:http';

/**
 * A request's body, at most `limit` bytes: null for GET and HEAD, 'too-large' past the limit
 * (declared or sent), 'aborted' when the client went away first.
 */
export async function readLimitedBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer | 'too-large' | 'aborted' | null> {
  if (req.method === 'GET' || req.method === 'HEAD') return null;
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return 'too-large';
  // Events rather than `for await`: the async iterator costs ~0.1 ms per request (bench trace).
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume(); // drain the rest; the answer is 413 either way
      resolve('too-large');
    };
    req.on('data', onData);
    let ended = false;
    req.once('end', () => {
      ended = true;
      resolve(size > limit ? 'too-large' : Buffer.concat(chunks, size));
    });
    // The client went away mid-body, or the request timeout cut it off: no one to answer, and
    // nothing to log (a slow-body attack would otherwise write one error per connection).
    req.once('error', () => resolve('aborted'));
    req.once('close', () => {
      if (!ended) resolve('aborted');
    });
  });
}
