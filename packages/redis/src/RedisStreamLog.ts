import type { StreamEntry, StreamLog } from '@somaagent/ports';
import type { Redis } from 'ioredis';

export interface RedisStreamLogOptions {
  /**
   * A stream expires this long after its last append (entries stay replayable at least that long).
   * @default 660 (seconds: the 10 minutes promised to clients plus a margin)
   */
  retentionSeconds?: number;
  /** @default 'soma:stream:' */
  keyPrefix?: string;
  /** How long one blocking read waits before checking for cancellation. @default 5000 */
  blockMs?: number;
}

// Sequence and entry in one atomic step: the new sequence is max(last, floor) + 1 and becomes
// the entry's stream ID (`<seq>-0`), so Redis itself keeps entries ordered and unique.
const APPEND = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if floor > last then last = floor end
last = last + 1
redis.call('SET', KEYS[1], last, 'EX', ARGV[4])
redis.call('XADD', KEYS[2], last .. '-0', 'p', ARGV[2], 'at', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return last`;

/**
 * Distributed StreamLog on Redis Streams: any replica can append and any replica can replay, so
 * a client may reconnect to another router and still resume with `afterSequence`.
 */
export class RedisStreamLog implements StreamLog {
  readonly kind = 'redis';
  private readonly retention: number;
  private readonly prefix: string;
  private readonly blockMs: number;
  private readonly readers = new Set<Redis>();

  /** @param redis a connected client; blocking reads use their own duplicates of it. */
  constructor(
    private readonly redis: Redis,
    options: RedisStreamLogOptions = {},
  ) {
    this.retention = options.retentionSeconds ?? 660;
    this.prefix = options.keyPrefix ?? 'soma:stream:';
    this.blockMs = options.blockMs ?? 5000;
  }

  private keys(stream: string) {
    return { seq: `${this.prefix}${stream}:seq`, entries: `${this.prefix}${stream}` };
  }

  async append<Payload>(
    stream: string,
    payload: Payload,
    options: { floor?: number } = {},
  ): Promise<StreamEntry<Payload>> {
    const { seq, entries } = this.keys(stream);
    const at = Date.now();
    // The sequence counter outlives the entries (a week) so numbering never restarts while a
    // client might still hold an old afterSequence; the database floor covers longer gaps.
    const sequence = (await this.redis.eval(
      APPEND,
      2,
      seq,
      entries,
      String(options.floor ?? 0),
      JSON.stringify(payload),
      String(at),
      String(7 * 24 * 3600),
      String(this.retention),
    )) as number;
    return { sequence: Number(sequence), payload, at };
  }

  async lastSequence(stream: string): Promise<number> {
    return Number((await this.redis.get(this.keys(stream).seq)) ?? 0);
  }

  subscribe<Payload>(
    stream: string,
    afterSequence: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StreamEntry<Payload>> {
    const { entries } = this.keys(stream);
    const reader = this.redis.duplicate();
    this.readers.add(reader);
    let cursor = `${afterSequence}-0`;
    let finished = false;
    const buffer: StreamEntry<Payload>[] = [];
    const finish = () => {
      if (finished) return;
      finished = true;
      this.readers.delete(reader);
      reader.disconnect();
    };
    signal?.addEventListener('abort', finish, { once: true });
    const toEntry = (id: string, fields: string[]): StreamEntry<Payload> => {
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
      return {
        sequence: Number(id.split('-')[0]),
        payload: JSON.parse(map.get('p') ?? 'null'),
        at: Number(map.get('at')),
      };
    };

    const iterator: AsyncIterableIterator<StreamEntry<Payload>> = {
      next: async () => {
        while (!finished) {
          const next = buffer.shift();
          if (next) return { value: next, done: false };
          try {
            // XREAD with an explicit ID returns everything after it: the replay and the live
            // tail are the same call, so nothing falls between them.
            const result = (await reader.xread(
              'COUNT',
              500,
              'BLOCK',
              this.blockMs,
              'STREAMS',
              entries,
              cursor,
            )) as [string, [string, string[]][]][] | null;
            for (const [id, fields] of result?.[0]?.[1] ?? []) {
              buffer.push(toEntry(id, fields));
              cursor = id;
            }
          } catch (error) {
            if (finished) break;
            throw error;
          }
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

  async [Symbol.asyncDispose](): Promise<void> {
    for (const reader of this.readers) reader.disconnect();
    this.readers.clear();
  }
}
