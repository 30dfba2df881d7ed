// `npm run policy:build`: compiles policies/ (tests left out) with the harness's `opa`
// (scripts/infra/engines/opa.ts builds it: `npm run infra -- up opa`) into
// packages/policy/compiled/:
//   policy.wasm + data.json  the embedded mode's in-process evaluator (opa build -t wasm)
//   bundle.tar.gz            the same Rego as an OPA bundle, for `opa run --server --bundle`
//   manifest.json            the sha256 of every source and their revision; a unit test fails
//                            when it no longer matches policies/ (wasm builds are not
//                            byte-reproducible, so the sources are compared, not the output)
// Commit the result: `npm start` then needs no Go or opa.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COMPILED_DIR,
  type CompiledManifest,
  DECISION_PATH,
  POLICIES_DIR,
  readPolicySources,
  sourcesRevision,
} from '../../packages/policy/src/index';
import { REPO_ROOT, run } from '../infra/engine';
import { OPA_VERSION, opaBinary } from '../infra/engines/opa';

const opa = opaBinary();
const sources = readPolicySources();
const revision = sourcesRevision(sources);
const common = ['--ignore', '*_test.rego', '--revision', revision, '-b', '.'];
const tmp = mkdtempSync(join(tmpdir(), 'soma-policy-build-'));
try {
  await run(opa, ['check', '--strict', '.'], { cwd: POLICIES_DIR });
  const wasmBundle = join(tmp, 'wasm.tar.gz');
  await run(opa, ['build', '-t', 'wasm', '-e', DECISION_PATH, ...common, '-o', wasmBundle], {
    cwd: POLICIES_DIR,
  });
  await run('tar', ['-xzf', wasmBundle, '-C', tmp, '/policy.wasm', '/data.json']);
  await copyFile(join(tmp, 'policy.wasm'), join(COMPILED_DIR, 'policy.wasm'));
  chmodSync(join(COMPILED_DIR, 'policy.wasm'), 0o644);
  // Pretty-printed so a change of the constitution data reads as a diff.
  const data = JSON.parse(await readFile(join(tmp, 'data.json'), 'utf8')) as unknown;
  writeFileSync(join(COMPILED_DIR, 'data.json'), `${JSON.stringify(data, null, 2)}\n`);
  await run(opa, ['build', ...common, '-o', join(COMPILED_DIR, 'bundle.tar.gz')], { cwd: POLICIES_DIR });
  const manifest: CompiledManifest = {
    revision,
    opaVersion: OPA_VERSION,
    entrypoints: [DECISION_PATH],
    sources: sources.map(({ id, sha256 }) => ({ id, sha256 })),
  };
  writeFileSync(join(COMPILED_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // The repository's formatter (biome) owns JSON layout; formatting here keeps `npm test`'s lint green.
  await run(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), [
    'format',
    '--write',
    join(COMPILED_DIR, 'data.json'),
    join(COMPILED_DIR, 'manifest.json'),
  ]);
  console.log(
    `compiled ${sources.length} policy sources (revision ${revision.slice(0, 12)}) into ${COMPILED_DIR}`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
