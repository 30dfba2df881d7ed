import type { StreamEntry, StreamLog } from '@somaagent/ports';

interface Stream {
  entries: StreamEntry[];
  last: number;
  lastActivity: number;
  wakers: Set<() => void>;
}

export interface InMemoryStreamLogOptions {
  /**
   * How long entries stay replayable.
   * @default 660_000 (11 minutes: the 10 promised to clients plus a margin)
   */
  retentionMs?: number;
}

/** Embedded StreamLog: one process, entries in memory, pruned after the retention period. */
export class InMemoryStreamLog implements StreamLog {
  readonly kind = 'in-memory';
  private readonly streams = new Map<string, Stream>();
  private readonly retentionMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private disposed = false;

  constructor(options: InMemoryStreamLogOptions = {}) {
    this.retentionMs = options.retentionMs ?? 660_000;
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.retentionMs, 60_000));
    this.sweeper.unref();
  }

  private stream(name: string): Stream {
    let stream = this.streams.get(name);
    if (!stream) {
      stream = { entries: [], last: 0, lastActivity: Date.now(), wakers: new Set() };
      this.streams.set(name, stream);
    }
    return stream;
  }

  private sweep(now = Date.now()) {
    for (const [name, stream] of this.streams) {
      const cutoff = now - this.retentionMs;
      const firstKept = stream.entries.findIndex((e) => e.at >= cutoff);
      stream.entries = firstKept === -1 ? [] : stream.entries.slice(firstKept);
      if (stream.entries.length === 0 && stream.wakers.size === 0 && stream.lastActivity < cutoff) {
        this.streams.delete(name);
      }
    }
  }

  async append<Payload>(
    name: string,
    payload: Payload,
    options: { floor?: number } = {},
  ): Promise<StreamEntry<Payload>> {
    const stream = this.stream(name);
    const at = Date.now();
    stream.last = Math.max(stream.last, options.floor ?? 0) + 1;
    stream.lastActivity = at;
    const entry: StreamEntry<Payload> = { sequence: stream.last, payload, at };
    stream.entries.push(entry);
    for (const wake of stream.wakers) wake();
    return entry;
  }

  async lastSequence(name: string): Promise<number> {
    return this.streams.get(name)?.last ?? 0;
  }

  subscribe<Payload>(
    name: string,
    afterSequence: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StreamEntry<Payload>> {
    const stream = this.stream(name);
    let cursor = afterSequence;
    let finished = false;
    let wake: (() => void) | null = null;
    const waker = () => wake?.();
    stream.wakers.add(waker);
    const finish = () => {
      finished = true;
      stream.wakers.delete(waker);
      wake?.();
    };
    signal?.addEventListener('abort', finish, { once: true });

    const iterator: AsyncIterableIterator<StreamEntry<Payload>> = {
      next: async () => {
        while (!finished && !this.disposed) {
          const cutoff = Date.now() - this.retentionMs;
          const next = stream.entries.find((e) => e.sequence > cursor && e.at >= cutoff);
          if (next) {
            cursor = next.sequence;
            return { value: next as StreamEntry<Payload>, done: false };
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        }
        return { value: undefined, done: true };
      },
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Live subscribers of a stream (tests assert that disconnecting releases them). */
  subscriberCount(name: string): number {
    return this.streams.get(name)?.wakers.size ?? 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.sweeper);
    this.disposed = true;
    for (const stream of this.streams.values()) for (const wake of stream.wakers) wake();
    this.streams.clear();
  }
}
