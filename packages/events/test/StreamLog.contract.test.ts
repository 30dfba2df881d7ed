import type { StreamEntry, StreamLog } from '@somaagent/ports';
import { RedisStreamLog } from '@somaagent/redis';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InMemoryStreamLog } from '../src/InMemoryStreamLog';

// One table of assertions for every StreamLog adapter: the embedded in-memory log and Redis
// Streams on the harness's real Redis server (engine `redis`).
const redisUrl = process.env.SOMA_REDIS_URL;
if (!redisUrl) throw new Error('the test harness did not provide the redis engine (SOMA_REDIS_URL)');

interface Subject {
  log: StreamLog;
  dispose(): Promise<void>;
}

const adapters: [string, () => Promise<Subject>][] = [
  [
    'in-memory',
    async () => {
      const log = new InMemoryStreamLog();
      return { log, dispose: () => log[Symbol.asyncDispose]() };
    },
  ],
  [
    'redis',
    async () => {
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      const log = new RedisStreamLog(redis, { blockMs: 200 });
      return {
        log,
        dispose: async () => {
          await log[Symbol.asyncDispose]();
          redis.disconnect();
        },
      };
    },
  ],
];

let counter = 0;
const fresh = () => `contract-${Date.now()}-${process.pid}-${counter++}`;

async function take<P>(
  iterator: AsyncIterableIterator<StreamEntry<P>>,
  n: number,
): Promise<StreamEntry<P>[]> {
  const got: StreamEntry<P>[] = [];
  while (got.length < n) {
    const r = await iterator.next();
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}

describe.each(adapters)('StreamLog contract: %s', (_name, open) => {
  it('numbers entries 1, 2, 3 per stream and reports the last', async () => {
    const { log, dispose } = await open();
    const stream = fresh();
    expect(await log.lastSequence(stream)).toBe(0);
    const seqs = [];
    for (const v of ['a', 'b', 'c']) seqs.push((await log.append(stream, { v })).sequence);
    expect(seqs).toEqual([1, 2, 3]);
    expect(await log.lastSequence(stream)).toBe(3);
    expect((await log.append(fresh(), 'x')).sequence).toBe(1);
    await dispose();
  });

  it('continues above a floor and never goes back below what it handed out', async () => {
    const { log, dispose } = await open();
    const stream = fresh();
    expect((await log.append(stream, 1, { floor: 41 })).sequence).toBe(42);
    expect((await log.append(stream, 2, { floor: 10 })).sequence).toBe(43);
    await dispose();
  });

  it('replays after a sequence, then continues live, in order, without duplicates', async () => {
    const { log, dispose } = await open();
    const stream = fresh();
    for (let i = 1; i <= 5; i++) await log.append(stream, { i });
    const abort = new AbortController();
    const it = log.subscribe<{ i: number }>(stream, 2, abort.signal);
    const replayed = await take(it, 3);
    expect(replayed.map((e) => e.sequence)).toEqual([3, 4, 5]);
    const live = take(it, 3);
    for (let i = 6; i <= 8; i++) await log.append(stream, { i });
    expect((await live).map((e) => e.payload.i)).toEqual([6, 7, 8]);
    abort.abort();
    expect((await it.next()).done).toBe(true);
    await dispose();
  });

  it('two subscribers each receive every entry', async () => {
    const { log, dispose } = await open();
    const stream = fresh();
    const a = log.subscribe<number>(stream, 0);
    const b = log.subscribe<number>(stream, 0);
    const got = Promise.all([take(a, 20), take(b, 20)]);
    for (let i = 0; i < 20; i++) await log.append(stream, i);
    const [ga, gb] = await got;
    expect(ga.map((e) => e.payload)).toEqual([...Array(20).keys()]);
    expect(gb.map((e) => e.payload)).toEqual([...Array(20).keys()]);
    await a.return?.();
    await b.return?.();
    await dispose();
  });

  it('returning the iterator ends a pending read promptly', async () => {
    const { log, dispose } = await open();
    const it = log.subscribe(fresh(), 0);
    const pending = it.next();
    const started = Date.now();
    await it.return?.();
    expect((await pending).done).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    await dispose();
  });
});
