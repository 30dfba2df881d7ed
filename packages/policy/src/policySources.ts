import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** The repository's Rego (policies/ at the repository root). */
export const POLICIES_DIR = resolve(import.meta.dirname, '../../../policies');
/** Where `npm run policy:build` writes policy.wasm, data.json, bundle.tar.gz and manifest.json. */
export const COMPILED_DIR = resolve(import.meta.dirname, '../compiled');

export interface PolicySource {
  /** Path under the policies folder, `/`-separated, e.g. `somaagent/authz/authz.rego`. */
  id: string;
  kind: 'rego' | 'data';
  text: string;
  sha256: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Every Rego module and data.json under `dir`, sorted, tests left out: exactly what the compiled
 * policy is built from.
 */
export function readPolicySources(dir = POLICIES_DIR): PolicySource[] {
  const out: PolicySource[] = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else if ((name.endsWith('.rego') && !name.endsWith('_test.rego')) || name === 'data.json') {
        const text = readFileSync(path, 'utf8');
        const id = relative(dir, path).split(sep).join('/');
        out.push({ id, kind: name === 'data.json' ? 'data' : 'rego', text, sha256: sha256(text) });
      }
    }
  };
  walk(dir);
  return out;
}

/** One hash over the ids and texts of the sources: the revision of the policy set. */
export function sourcesRevision(sources: readonly PolicySource[]): string {
  const hash = createHash('sha256');
  for (const s of sources) hash.update(`${s.id}\0${s.sha256}\0`);
  return hash.digest('hex');
}

/** What scripts/policy/build.ts records next to the compiled policy. */
export interface CompiledManifest {
  revision: string;
  opaVersion: string;
  entrypoints: string[];
  sources: { id: string; sha256: string }[];
}

export function readCompiledManifest(dir = COMPILED_DIR): CompiledManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CompiledManifest;
}
