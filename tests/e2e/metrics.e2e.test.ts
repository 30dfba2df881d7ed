import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MetricsServer, PlatformMetrics, serveMetrics } from '@somaagent/observability';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * The platform's Prometheus metrics, scraped by the harness's real Prometheus server (engine
 * `prometheus`) and read back with PromQL; and `/readyz` against real engines, one of them cut off.
 */
const prometheusUrl = process.env.SOMA_PROMETHEUS_URL;
const targetsDir = process.env.SOMA_PROMETHEUS_TARGETS_DIR;
const redisUrl = process.env.SOMA_REDIS_URL;
if (!prometheusUrl || !targetsDir || !redisUrl)
  throw new Error('the test harness did not provide the prometheus and redis engines');

const run = `metrics-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;
const targetsFile = join(targetsDir, `${run}.json`);
let p: TestPlatform;
let metrics: PlatformMetrics;
let server: MetricsServer;
let redis: Redis;

beforeAll(async () => {
  metrics = new PlatformMetrics();
  redis = new Redis(redisUrl, {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  p = await startTestPlatform({ metrics, readiness: { redis: async () => void (await redis.ping()) } });
  server = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
  const { host } = new URL(server.url);
  writeFileSync(targetsFile, JSON.stringify([{ targets: [host], labels: { run } }]));
}, 120_000);
afterAll(async () => {
  rmSync(targetsFile, { force: true });
  await server?.close();
  await p?.[Symbol.asyncDispose]();
  redis?.disconnect();
});

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data?: { result: Sample[] }; error?: string };
  if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
  return body.data!.result;
}

/** Polls until the query returns what `accept` wants (Prometheus scrapes every second). */
async function eventually(promql: string, accept: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const samples = await query(promql);
    if (accept(samples)) return samples;
    if (Date.now() > deadline)
      throw new Error(`${promql} never returned what was expected: ${JSON.stringify(samples)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('metrics scraped by a real Prometheus', () => {
  it('serves the text format and the platform series', async () => {
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'soma_router_http_requests_total',
      'nodejs_eventloop_lag_seconds',
      'process_resident_memory_bytes',
    ])
      expect(text).toContain(`# TYPE ${name}`);
  });

  it('operations by type and outcome, HTTP requests by status, token refusals, latency quantiles and process figures come back through PromQL', async () => {
    const token = await p.platformToken();
    for (let i = 0; i < 5; i++)
      expect((await p.gql('{ viewer { subject } }', {}, token)).errors).toBeUndefined();
    // Two refusals: a field that needs a token, asked without one; and a forged token.
    await p.gql('{ tenant { id } }');
    expect((await gql(p.platform.url, '{ viewer { subject } }', {}, 'not.a.token')).code).toBe(
      'UNAUTHENTICATED',
    );

    const ok = await eventually(`soma_graphql_operations_total{run="${run}",type="query",code="OK"}`, (s) =>
      s.some((x) => Number(x.value[1]) >= 5),
    );
    expect(ok.length).toBe(1);
    await eventually(
      `soma_graphql_operations_total{run="${run}",code="UNAUTHENTICATED"}`,
      (s) => s.length > 0,
    );
    await eventually(`soma_router_http_requests_total{run="${run}",route="/graphql",status="401"}`, (s) =>
      s.some((x) => Number(x.value[1]) >= 1),
    );
    await eventually(`soma_router_token_rejections_total{run="${run}"}`, (s) =>
      s.some((x) => Number(x.value[1]) >= 1),
    );
    const p95 = await eventually(
      `histogram_quantile(0.95, sum by (le) (soma_router_http_request_duration_seconds_bucket{run="${run}",route="/graphql"}))`,
      (s) => s.length === 1 && Number.isFinite(Number(s[0]!.value[1])),
    );
    console.log(`[metrics] p95 of /graphql by PromQL: ${Number(p95[0]!.value[1]).toFixed(3)} s`);
    await eventually(`up{run="${run}"}`, (s) => s.length === 1 && s[0]!.value[1] === '1');
    await eventually(
      `process_resident_memory_bytes{run="${run}"}`,
      (s) => Number(s[0]?.value[1]) > 10_000_000,
    );
    await eventually(`nodejs_eventloop_lag_seconds{run="${run}"}`, (s) => s.length === 1);
  });

  it('labels stay bounded: unknown paths and codes do not become series', async () => {
    for (const path of ['/wp-admin', '/random-1', '/random-2'])
      await fetch(p.platform.url.replace(/\/graphql$/, path));
    const text = await (await fetch(server.url)).text();
    expect(text).not.toContain('wp-admin');
    expect(text).toMatch(/soma_router_http_requests_total\{route="other",status="404"\}/);
  });
});

describe('/healthz and /readyz', () => {
  const base = () => p.platform.url.replace(/\/graphql$/, '');

  it('/readyz is 200 while the database and Redis answer, naming each check', async () => {
    const res = await fetch(`${base()}/readyz`);
    expect(res.status).toBe(200);
    const report = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(report.ready).toBe(true);
    expect(Object.keys(report.checks).sort()).toEqual(['database', 'redis']);
  });

  it('/readyz is 503 naming Redis once its connection is gone; /healthz stays 200', async () => {
    redis.disconnect();
    await new Promise((r) => setTimeout(r, 1_100)); // past the reuse of the last report
    const res = await fetch(`${base()}/readyz`);
    expect(res.status).toBe(503);
    const report = (await res.json()) as {
      ready: boolean;
      checks: Record<string, { ok: boolean; error?: string }>;
    };
    expect(report.ready).toBe(false);
    expect(report.checks.database!.ok).toBe(true);
    expect(report.checks.redis!.ok).toBe(false);
    expect(report.checks.redis!.error).toBeTruthy();
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    await eventually(`soma_readiness_check_up{run="${run}",check="redis"}`, (s) => s[0]?.value[1] === '0');
  });
});
