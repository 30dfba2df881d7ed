// Writes schema/supergraph.graphql from supergraph.yaml. With --check, fails instead when the
// committed file differs from a fresh composition (or composition fails).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { composeSupergraph, readSupergraphConfig } from '../router/src/compose/composeSupergraph';

const root = resolve(import.meta.dirname, '..');
const target = resolve(root, 'schema/supergraph.graphql');
const sdl = composeSupergraph(readSupergraphConfig(resolve(root, 'supergraph.yaml')));

if (process.argv.includes('--check')) {
  const committed = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (committed !== sdl) {
    console.error('schema/supergraph.graphql is stale: run `npm run compose` and commit the result.');
    process.exit(1);
  }
  console.log('schema/supergraph.graphql is up to date.');
} else {
  writeFileSync(target, sdl);
  console.log(`wrote ${target}`);
}
