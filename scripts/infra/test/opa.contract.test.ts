import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWasmPolicy } from '../engines/opa';

/**
 * The harness OPA server decides on the bundle in scripts/infra/opa/bundle over REST, and the
 * same Rego compiled by `opa build -t wasm` decides alike in-process with
 * `@open-policy-agent/opa-wasm` (the embedded mode's evaluator).
 */
const opa = inject('opa');
const TENANT = 'tenant-a';

interface Case {
  name: string;
  input: unknown;
  allow: boolean;
  reasons: string[];
}

const subject = (scopes: string[], tenant = TENANT) => ({ tenant, scopes });
const CASES: Case[] = [
  {
    name: 'read with soma:read in own tenant',
    input: { subject: subject(['soma:read']), action: 'read', resource: { tenant: TENANT } },
    allow: true,
    reasons: [],
  },
  {
    name: 'write with only soma:read',
    input: { subject: subject(['soma:read']), action: 'write', resource: { tenant: TENANT } },
    allow: false,
    reasons: ['missing scope soma:write'],
  },
  {
    name: 'write with soma:write',
    input: { subject: subject(['soma:read', 'soma:write']), action: 'write', resource: { tenant: TENANT } },
    allow: true,
    reasons: [],
  },
  {
    name: 'admin, any action in own tenant',
    input: { subject: subject(['soma:admin']), action: 'delete', resource: { tenant: TENANT } },
    allow: true,
    reasons: ['unknown action "delete"'],
  },
  {
    name: 'admin of another tenant',
    input: { subject: subject(['soma:admin'], 'tenant-b'), action: 'read', resource: { tenant: TENANT } },
    allow: false,
    reasons: ['cross-tenant'],
  },
  {
    name: 'no input at all',
    input: {},
    allow: false,
    reasons: ['cross-tenant', 'unknown action null'],
  },
];

async function decide(path: string, input: unknown): Promise<unknown> {
  const response = await fetch(`${opa.url}/v1/data/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { result?: unknown }).result;
}

describe('OPA server over REST (bundle from scripts/infra/opa/bundle)', () => {
  it('listens on 127.0.0.1 and reports healthy', async () => {
    expect(opa.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${opa.url}/health`)).status).toBe(200);
  });

  for (const c of CASES) {
    it(`decides: ${c.name} → ${c.allow ? 'allow' : 'deny'}`, async () => {
      expect(await decide('soma/smoke/allow', c.input)).toBe(c.allow);
      expect(((await decide('soma/smoke/reasons', c.input)) as string[]).sort()).toEqual(
        [...c.reasons].sort(),
      );
    });
  }

  it('serves the bundle data and its Rego', async () => {
    expect(await decide('soma/smoke/action_scopes', {})).toEqual({ read: 'soma:read', write: 'soma:write' });
    const policies = (await (await fetch(`${opa.url}/v1/policies`)).json()) as { result: { raw: string }[] };
    expect(policies.result.some((p) => p.raw.includes('package soma.smoke'))).toBe(true);
  });

  it('refuses to let REST clients overwrite what the bundle owns', async () => {
    const response = await fetch(`${opa.url}/v1/data/soma/smoke/action_scopes`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ read: 'anyone' }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toMatch(/owned by bundle/);
    expect(await decide('soma/smoke/action_scopes', {})).toEqual({ read: 'soma:read', write: 'soma:write' });
  });

  it('answers malformed input with a typed 400', async () => {
    const response = await fetch(`${opa.url}/v1/data/soma/smoke/allow`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('invalid_parameter');
  });
});

describe('the same Rego compiled to wasm, evaluated in-process by @open-policy-agent/opa-wasm', () => {
  let outDir: string;
  let policy: LoadedPolicy;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'soma-opa-wasm-'));
    const { wasm, data } = await buildWasmPolicy({
      entrypoints: ['soma/smoke/allow', 'soma/smoke/reasons'],
      outDir,
    });
    policy = await loadPolicy(readFileSync(wasm));
    // Bundle data is not compiled into the wasm module: it is loaded beside it.
    policy.setData(JSON.parse(readFileSync(data, 'utf8')) as object);
  });

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('exports the requested entrypoints', () => {
    expect(Object.keys(policy.entrypoints as Record<string, number>).sort()).toEqual([
      'soma/smoke/allow',
      'soma/smoke/reasons',
    ]);
  });

  for (const c of CASES) {
    it(`decides like the server: ${c.name}`, async () => {
      const [allow] = policy.evaluate(c.input, 'soma/smoke/allow') as { result: boolean }[];
      const [reasons] = policy.evaluate(c.input, 'soma/smoke/reasons') as { result: string[] }[];
      expect(allow?.result).toBe(c.allow);
      expect([...(reasons?.result ?? [])].sort()).toEqual([...c.reasons].sort());
      // And agrees with the live server on the very same input.
      expect(allow?.result).toBe(await decide('soma/smoke/allow', c.input));
    });
  }
});
