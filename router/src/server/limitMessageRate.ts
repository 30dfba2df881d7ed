import type { WebSocket } from 'ws';

export interface MessageRateLimit {
  /** Messages a socket may send per second, sustained. 0 turns the limit off. */
  perSecond: number;
  /** Messages it may send at once after a quiet spell (the bucket's size). */
  burst: number;
}

/**
 * A token bucket on one WebSocket's incoming messages. The first message over the limit closes
 * the socket with 4429 and neither it nor anything after it reaches the graphql-ws server: the
 * instance's `emit` is wrapped, since listeners cannot stop each other.
 */
export function limitMessageRate(ws: WebSocket, { perSecond, burst }: MessageRateLimit): void {
  if (perSecond <= 0) return;
  let tokens = burst;
  let last = performance.now();
  let exceeded = false;
  const emit = ws.emit.bind(ws);
  ws.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'message') return emit(event, ...args);
    if (exceeded) return false;
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return emit(event, ...args);
    }
    exceeded = true;
    ws.close(4429, `more than ${perSecond} messages per second (burst ${burst}); slow down`);
    // A peer that ignores the close frame does not keep the socket.
    setTimeout(() => ws.terminate(), 1000).unref();
    return false;
  }) as typeof ws.emit;
}
