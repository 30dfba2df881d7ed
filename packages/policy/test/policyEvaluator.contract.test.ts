import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createPolicyDecider,
  createWasmPolicyEvaluator,
  OpaServerPolicyEvaluator,
  type PolicyEvaluator,
  publishPoliciesToOpa,
  readCompiledManifest,
  readPolicySources,
  sourcesRevision,
} from '../src/index';
import { POLICY_CASES } from './policyCases';

/**
 * ONE suite for the policy port, run against both adapters of the SAME Rego (policies/):
 * in-process wasm (the committed compile of it) and the harness's real OPA server (`opa run
 * --server`, engine `opa`), into which the Rego is loaded over OPA's REST Policy API.
 */
const opa = inject('opa');

const adapters: { name: string; create: () => Promise<PolicyEvaluator> }[] = [
  { name: 'WasmPolicyEvaluator (in-process)', create: () => createWasmPolicyEvaluator() },
  {
    name: 'OpaServerPolicyEvaluator (opa run --server)',
    create: async () => {
      await publishPoliciesToOpa(opa.url);
      return new OpaServerPolicyEvaluator({ url: opa.url });
    },
  },
];

for (const adapter of adapters) {
  describe(adapter.name, () => {
    let evaluator: PolicyEvaluator;
    beforeAll(async () => {
      evaluator = await adapter.create();
    });

    for (const c of POLICY_CASES) {
      it(`${c.allow ? 'allows' : 'denies'}: ${c.name}`, async () => {
        const decision = await evaluator.evaluate(c.input);
        expect(decision).toEqual({ allow: c.allow, reasons: c.reasons, policy: c.input.policy });
      });
    }

    it('counts its evaluations', async () => {
      const before = evaluator.evaluations;
      await evaluator.evaluate({ policy: 'public', subject: null });
      await evaluator.evaluate({ policy: 'public', subject: null });
      expect(evaluator.evaluations - before).toBe(2);
    });

    it('reports the modules it decides with and the revision of policies/', async () => {
      const info = await evaluator.info();
      const sources = readPolicySources();
      expect(info.engine).toBe(evaluator.kind);
      expect(info.revision).toBe(sourcesRevision(sources));
      expect(info.modules.map((m) => m.id)).toContain('somaagent/authz/authz.rego');
      const rego = sources.find((s) => s.id === 'somaagent/authz/authz.rego');
      expect(info.modules.find((m) => m.id === rego?.id)?.sha256).toBe(rego?.sha256);
    });
  });
}

describe('the committed wasm and the OPA server agree', () => {
  it('on every case of the table', async () => {
    await publishPoliciesToOpa(opa.url);
    const wasm = await createWasmPolicyEvaluator();
    const server = new OpaServerPolicyEvaluator({ url: opa.url });
    for (const c of POLICY_CASES)
      expect(await wasm.evaluate(c.input)).toEqual(await server.evaluate(c.input));
    expect(readCompiledManifest().revision).toBe((await server.info()).revision);
  });
});

describe('fail-closed when the OPA server cannot decide', () => {
  let silent: Server;
  let silentPort = 0;
  let closedPort = 0;
  const hung = new Set<import('node:net').Socket>();

  beforeAll(async () => {
    // A real listener that accepts connections and never answers (a hung engine).
    silent = createServer((socket) => {
      hung.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
    // A port that was just released: connections are refused.
    const released = createServer();
    await new Promise<void>((resolve) => released.listen(0, '127.0.0.1', resolve));
    closedPort = (released.address() as { port: number }).port;
    await new Promise<void>((resolve) => released.close(() => resolve()));
  });
  afterAll(async () => {
    for (const socket of hung) socket.destroy();
    await new Promise<void>((resolve) => silent?.close(() => resolve()));
  });

  it('an unreachable engine denies, marked unavailable', async () => {
    const decider = createPolicyDecider({
      evaluator: new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${closedPort}` }),
    });
    const decision = await decider.forRequest().decide({ policy: 'public', subject: null });
    expect(decision.allow).toBe(false);
    expect(decision.unavailable).toBe(true);
    expect(decision.reasons[0]).toMatch(/^policy engine unavailable \(OPA server at .* is unreachable/);
  });

  it('a hung engine denies after the timeout', async () => {
    const decider = createPolicyDecider({
      evaluator: new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${silentPort}`, timeoutMs: 200 }),
    });
    const t0 = Date.now();
    const decision = await decider.forRequest().decide({ policy: 'public', subject: null });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect([decision.allow, decision.unavailable]).toEqual([false, true]);
  });

  it('fail-open (development only) allows, still marked unavailable', async () => {
    const decider = createPolicyDecider({
      evaluator: new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${closedPort}` }),
      failOpen: true,
    });
    const decision = await decider.forRequest().decide({ policy: 'capability', subject: null });
    expect([decision.allow, decision.unavailable]).toEqual([true, true]);
  });
});
