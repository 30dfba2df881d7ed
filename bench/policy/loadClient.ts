/**
 * The load generator of bench/policy, run as a CHILD PROCESS (bench.ts forks it) so the client
 * does not compete with the routers in their event loop or heap. It answers IPC messages:
 *
 *   → { url, token, body, requests, concurrency }
 *   ← { rps, p50, p99, errors }
 *
 * node:http with a keep-alive agent (lighter than fetch): the less CPU the client takes on a
 * 2-core machine, the more of the difference measured is the router's.
 */
import { Agent, request } from 'node:http';

export interface LoadJob {
  url: string;
  token: string;
  body: string;
  requests: number;
  concurrency: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** Responses that were not 200 or carried `errors` (the bench expects none). */
  errors: number;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const url = new URL(job.url);
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(job.body),
    authorization: `Bearer ${job.token}`,
  };
  let errors = 0;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200 || Buffer.concat(chunks).includes('"errors"')) errors++;
            resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(job.body);
    });

  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next++ < job.requests) {
        const s = performance.now();
        await once();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { rps: job.requests / seconds, p50: at(0.5), p99: at(0.99), errors };
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result }),
    (error: Error) => process.send?.({ ok: false, error: error.message }),
  );
});
