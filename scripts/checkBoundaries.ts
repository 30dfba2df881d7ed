/**
 * The import rules of the architecture, checked on every `npm test` (before vitest):
 * `tsx scripts/checkBoundaries.ts [root]`. Prints one line per violation, naming the file, the
 * line and the import, and exits 1 when there is any.
 *
 * - a shared package (packages/*) imports only shared packages: never a subgraph, the router,
 *   the workers or the composition root (platform/);
 * - a subgraph imports no other subgraph, nor the router, the workers or the composition root;
 *   the router and the workers import shared packages only (their tests may import another
 *   layer's package they declare in devDependencies, never the composition root, and a
 *   subgraph's tests never another subgraph);
 * - no relative import leaves its package's folder (a test may reach the repository's test
 *   harness: tests/support, tests/setup, scripts/infra);
 * - every bare import names a Node built-in, the package itself, or a dependency its own
 *   package.json declares (`dependencies`, `peerDependencies`; tests also `devDependencies`).
 *
 * Type-only imports count: a type from another domain couples the two as much as a value.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** The layer of each top-level folder holding workspace packages. */
export const LAYERS = {
  packages: 'shared',
  subgraphs: 'subgraph',
  router: 'router',
  workers: 'workers',
  platform: 'composition root',
} as const;
export type Layer = (typeof LAYERS)[keyof typeof LAYERS];

/** Which layers a package of each layer may import (besides itself). */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  shared: ['shared'],
  subgraph: ['shared'],
  router: ['shared'],
  workers: ['shared'],
  'composition root': ['shared', 'subgraph', 'router', 'workers'],
};

/** Folders, relative to the repository root, that test files may import by relative path. */
export const TEST_HARNESS_DIRS = ['tests/support', 'tests/setup', 'scripts/infra'];

const SOURCE_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.cache', '.data', '.git']);
const BUILTINS = new Set(builtinModules);

export interface WorkspacePackage {
  name: string;
  /** Absolute folder. */
  dir: string;
  layer: Layer;
  dependencies: Set<string>;
  devDependencies: Set<string>;
}

export interface Violation {
  /** Relative to the root, with `/`. */
  file: string;
  line: number;
  specifier: string;
  rule: 'layer' | 'relative-import' | 'undeclared-dependency';
  message: string;
}

const posix = (path: string) => path.split(sep).join('/');

/** The workspace packages of the root package.json (`dir/*` and plain `dir` entries). */
export function readWorkspaces(root: string): WorkspacePackage[] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const dirs = (manifest.workspaces ?? []).flatMap((entry) => {
    if (!entry.endsWith('/*')) return [join(root, entry)];
    const parent = join(root, entry.slice(0, -2));
    if (!existsSync(parent)) return [];
    return readdirSync(parent)
      .map((name) => join(parent, name))
      .filter((dir) => statSync(dir).isDirectory());
  });
  return dirs
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .flatMap((dir) => {
      const top = posix(relative(root, dir)).split('/')[0] as keyof typeof LAYERS;
      const layer = LAYERS[top];
      if (!layer) return [];
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string;
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      return [
        {
          name: pkg.name,
          dir,
          layer,
          dependencies: new Set([
            ...Object.keys(pkg.dependencies ?? {}),
            ...Object.keys(pkg.peerDependencies ?? {}),
          ]),
          devDependencies: new Set(Object.keys(pkg.devDependencies ?? {})),
        },
      ];
    });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIP_DIRS.has(entry.name) ? [] : sourceFiles(path);
    return SOURCE_FILE.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const isTestFile = (relativeToPackage: string) =>
  /(^|\/)(test|tests)\//.test(relativeToPackage) || /\.test\.[cm]?[jt]s$/.test(relativeToPackage);

/**
 * A test may also import, through a declared devDependency, a package of a layer its sources may
 * not (the workers' tests create the capsules tables their activities write), but never the
 * composition root, and a subgraph's tests never import another subgraph.
 */
function testMayImport(pkg: WorkspacePackage, target: WorkspacePackage, test: boolean): boolean {
  if (!test || !pkg.devDependencies.has(target.name)) return false;
  if (target.layer === 'composition root') return false;
  return !(pkg.layer === 'subgraph' && target.layer === 'subgraph');
}

/** Every import, export-from, dynamic `import()` and `require()` of a file, with its line. */
function importsOf(text: string): { specifier: string; line: number }[] {
  const info = ts.preProcessFile(text, true, true);
  const lineOf = (pos: number) => text.slice(0, pos).split('\n').length;
  return info.importedFiles.map((f) => ({ specifier: f.fileName, line: lineOf(f.pos) }));
}

/** Checks every source file of every workspace package under `root`. */
export function checkBoundaries(root: string): Violation[] {
  const absoluteRoot = resolve(root);
  const packages = readWorkspaces(absoluteRoot);
  const byName = new Map(packages.map((p) => [p.name, p]));
  const harness = TEST_HARNESS_DIRS.map((d) => join(absoluteRoot, d));
  const violations: Violation[] = [];

  for (const pkg of packages) {
    for (const file of sourceFiles(pkg.dir)) {
      const inPackage = posix(relative(pkg.dir, file));
      const test = isTestFile(inPackage);
      const where = posix(relative(absoluteRoot, file));
      for (const { specifier, line } of importsOf(readFileSync(file, 'utf8'))) {
        const report = (rule: Violation['rule'], message: string) =>
          violations.push({ file: where, line, specifier, rule, message });

        if (specifier.startsWith('.')) {
          const target = resolve(dirname(file), specifier);
          if (target === pkg.dir || target.startsWith(pkg.dir + sep)) continue;
          if (test && harness.some((h) => target === h || target.startsWith(h + sep))) continue;
          const owner = packages.find((p) => target === p.dir || target.startsWith(p.dir + sep));
          report(
            'relative-import',
            `relative import leaves package ${pkg.name} (${posix(relative(absoluteRoot, pkg.dir))})${
              owner ? `: import ${owner.name} by name, from what its index exports` : ''
            }`,
          );
          continue;
        }
        if (specifier.startsWith('/')) {
          report('relative-import', 'absolute import path: import the package by name');
          continue;
        }
        if (
          specifier.startsWith('node:') ||
          BUILTINS.has(specifier) ||
          BUILTINS.has(packageNameOf(specifier))
        )
          continue;

        const name = packageNameOf(specifier);
        if (name === pkg.name) continue;
        const target = byName.get(name);
        if (target && !ALLOWED[pkg.layer].includes(target.layer) && !testMayImport(pkg, target, test)) {
          report(
            'layer',
            target.layer === pkg.layer
              ? `${pkg.layer} ${pkg.name} imports another ${target.layer}, ${name}: domains meet only through a port in @somaagent/ports, wired by the composition root (platform/src/bridges/)`
              : `${pkg.layer} ${pkg.name} imports ${target.layer} ${name}: dependencies point one way (composition root → router, subgraphs, workers → shared packages)`,
          );
        }
        const declared = pkg.dependencies.has(name) || (test && pkg.devDependencies.has(name));
        if (!declared) {
          report(
            'undeclared-dependency',
            `${name} is not declared in ${posix(relative(absoluteRoot, join(pkg.dir, 'package.json')))} ${
              test ? '(dependencies or devDependencies)' : '(dependencies)'
            }`,
          );
        }
      }
    }
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** `file:line: rule: import 'x' — message`, one line each. */
export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: ${v.rule}: import '${v.specifier}' — ${v.message}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = process.argv[2] ?? resolve(import.meta.dirname, '..');
  const violations = checkBoundaries(root);
  for (const v of violations) console.error(formatViolation(v));
  if (violations.length > 0) {
    console.error(
      `\ncheckBoundaries: ${violations.length} import(s) break the architecture's rules (see scripts/checkBoundaries.ts)`,
    );
    process.exit(1);
  }
  console.log(
    `checkBoundaries: ${readWorkspaces(root).length} workspace packages, every import within the rules`,
  );
}
