import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkBoundaries, formatViolation } from './checkBoundaries';

type Tree = Record<string, string | object>;

const roots: string[] = [];

/** A small repository on disk: paths → file text (objects are written as JSON). */
function tree(files: Tree): string {
  const root = mkdtempSync(join(tmpdir(), 'check-boundaries-'));
  roots.push(root);
  const all: Tree = {
    'package.json': {
      name: 'repo',
      workspaces: ['packages/*', 'subgraphs/*', 'router', 'workers', 'platform'],
    },
    'packages/ports/package.json': { name: '@x/ports' },
    'packages/ports/src/index.ts': 'export interface Port { a: number }\n',
    'subgraphs/alpha/package.json': { name: '@x/alpha', dependencies: { '@x/ports': '*', graphql: '^16' } },
    'subgraphs/alpha/src/index.ts':
      "import type { Port } from '@x/ports';\nimport { parse } from 'graphql';\nexport const alpha = (p: Port) => parse(String(p.a));\n",
    'subgraphs/beta/package.json': { name: '@x/beta', dependencies: { '@x/ports': '*' } },
    'subgraphs/beta/src/index.ts':
      "import { readFileSync } from 'node:fs';\nimport { join } from 'path';\nexport const beta = () => readFileSync(join('a'));\n",
    'platform/package.json': { name: '@x/platform', dependencies: { '@x/alpha': '*', '@x/beta': '*' } },
    'platform/src/index.ts': "export { alpha } from '@x/alpha';\nexport { beta } from '@x/beta';\n",
    'tests/support/db.ts': 'export const db = 1;\n',
    ...files,
  };
  for (const [path, content] of Object.entries(all)) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('checkBoundaries', () => {
  it('passes a tree that keeps the rules (built-ins, declared packages, the root importing everything)', () => {
    expect(checkBoundaries(tree({}))).toEqual([]);
  });

  it('names the file, line and import of a subgraph importing another subgraph', () => {
    const root = tree({
      'subgraphs/beta/package.json': { name: '@x/beta', dependencies: { '@x/alpha': '*' } },
      'subgraphs/beta/src/useAlpha.ts':
        "// first line\nimport { alpha } from '@x/alpha';\nexport const b = alpha;\n",
    });
    const violations = checkBoundaries(root);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({
      file: 'subgraphs/beta/src/useAlpha.ts',
      line: 2,
      specifier: '@x/alpha',
      rule: 'layer',
    });
    expect(formatViolation(violations[0]!)).toMatch(
      /^subgraphs\/beta\/src\/useAlpha\.ts:2: layer: import '@x\/alpha' — subgraph @x\/beta imports another subgraph/,
    );
  });

  it('refuses a shared package importing a subgraph or the composition root, type-only and dynamic imports included', () => {
    const root = tree({
      'packages/ports/package.json': {
        name: '@x/ports',
        dependencies: { '@x/alpha': '*', '@x/platform': '*' },
      },
      'packages/ports/src/up.ts':
        "import type { alpha } from '@x/alpha';\nexport type A = typeof alpha;\nexport const load = () => import('@x/platform');\n",
    });
    expect(checkBoundaries(root).map((v) => [v.line, v.specifier, v.rule])).toEqual([
      [1, '@x/alpha', 'layer'],
      [3, '@x/platform', 'layer'],
    ]);
  });

  it('refuses a relative import that leaves its package, and says which package to import instead', () => {
    const root = tree({
      'packages/ports/src/sneak.ts': "export { alpha } from '../../../subgraphs/alpha/src/index';\n",
    });
    const [violation, ...rest] = checkBoundaries(root);
    expect(rest).toEqual([]);
    expect(violation).toMatchObject({
      file: 'packages/ports/src/sneak.ts',
      line: 1,
      rule: 'relative-import',
    });
    expect(violation!.message).toContain('import @x/alpha by name');
  });

  it('lets tests reach the test harness by relative path, but not another package', () => {
    const root = tree({
      'subgraphs/alpha/test/a.unit.test.ts':
        "import { db } from '../../../tests/support/db';\nexport const x = db;\n",
      'subgraphs/beta/test/b.unit.test.ts':
        "import { alpha } from '../../alpha/src/index';\nexport const y = alpha;\n",
    });
    expect(checkBoundaries(root).map((v) => [v.file, v.rule])).toEqual([
      ['subgraphs/beta/test/b.unit.test.ts', 'relative-import'],
    ]);
  });

  it('requires each package to declare what it imports; devDependencies count for tests only', () => {
    const root = tree({
      'subgraphs/beta/package.json': {
        name: '@x/beta',
        dependencies: { '@x/ports': '*' },
        devDependencies: { vitest: '^3', zod: '^4' },
      },
      'subgraphs/beta/src/config.ts':
        "import { z } from 'zod';\nimport pg from 'pg';\nexport const c = [z, pg];\n",
      'subgraphs/beta/test/config.unit.test.ts':
        "import { expect } from 'vitest';\nimport { z } from 'zod';\nexport const t = [expect, z];\n",
    });
    expect(checkBoundaries(root).map((v) => [v.file, v.line, v.specifier, v.rule])).toEqual([
      ['subgraphs/beta/src/config.ts', 1, 'zod', 'undeclared-dependency'],
      ['subgraphs/beta/src/config.ts', 2, 'pg', 'undeclared-dependency'],
    ]);
  });

  it("lets the workers' tests import a declared subgraph, never a subgraph's tests another subgraph", () => {
    const root = tree({
      'workers/package.json': {
        name: '@x/workers',
        dependencies: { '@x/ports': '*' },
        devDependencies: { '@x/alpha': '*' },
      },
      'workers/src/index.ts': "export type { Port } from '@x/ports';\n",
      'workers/test/run.contract.test.ts': "import { alpha } from '@x/alpha';\nexport const w = alpha;\n",
      'subgraphs/beta/package.json': { name: '@x/beta', devDependencies: { '@x/alpha': '*' } },
      'subgraphs/beta/test/b.unit.test.ts': "import { alpha } from '@x/alpha';\nexport const b = alpha;\n",
    });
    expect(checkBoundaries(root).map((v) => [v.file, v.rule])).toEqual([
      ['subgraphs/beta/test/b.unit.test.ts', 'layer'],
    ]);
  });

  it('refuses the workers importing a subgraph from their sources', () => {
    const root = tree({
      'workers/package.json': { name: '@x/workers', dependencies: { '@x/alpha': '*' } },
      'workers/src/index.ts': "export { alpha } from '@x/alpha';\n",
    });
    expect(checkBoundaries(root).map((v) => [v.file, v.specifier, v.rule])).toEqual([
      ['workers/src/index.ts', '@x/alpha', 'layer'],
    ]);
  });
});
