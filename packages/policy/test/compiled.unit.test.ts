import { describe, expect, it } from 'vitest';
import { readCompiledManifest, readPolicySources, sourcesRevision, WasmPolicyEvaluator } from '../src/index';

describe('packages/policy/compiled', () => {
  it('was built from the Rego in policies/ as it is now (else: npm run policy:build, commit)', () => {
    const manifest = readCompiledManifest();
    const sources = readPolicySources();
    expect(manifest.sources).toEqual(sources.map(({ id, sha256 }) => ({ id, sha256 })));
    expect(manifest.revision).toBe(sourcesRevision(sources));
  });

  it('loads in-process without any opa binary and decides', async () => {
    const evaluator = await WasmPolicyEvaluator.load();
    expect(evaluator.evaluateSync({ policy: 'public', subject: null }).allow).toBe(true);
    expect(evaluator.evaluateSync({ policy: 'nope', subject: null }).allow).toBe(false);
  });
});
