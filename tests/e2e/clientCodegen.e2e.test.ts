import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../../codegen';
import { startTestPlatform, type TestPlatform } from '../support/platform';

const root = resolve(import.meta.dirname, '../..');
let t: TestPlatform;
let workDir: string;

beforeAll(async () => {
  t = await startTestPlatform();
  workDir = mkdtempSync(join(tmpdir(), 'soma-client-'));
  cpSync(join(root, 'docs/examples/client'), workDir, { recursive: true });
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('typed client generated from the live endpoint', () => {
  it('codegen introspects the running router and the example client compiles strictly', async () => {
    const target = join(workDir, 'generated/graphql.ts');
    const output = Object.values(config.generates)[0] as object;
    await generate(
      {
        ...config,
        schema: t.platform.url,
        documents: [join(workDir, 'operations.graphql')],
        generates: { [target]: output },
        silent: true,
      },
      true,
    );
    const program = ts.createProgram([join(workDir, 'client.ts')], {
      strict: true,
      noUncheckedIndexedAccess: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      skipLibCheck: true,
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);

    // And the generated types describe what the endpoint really returns.
    const tenant = await t.createTenant('typed');
    const { listUserEmails } = await import(join(workDir, 'client.ts'));
    expect(
      await listUserEmails(t.platform.url, 'typed', tenant.adminEmail, 'correct horse battery staple'),
    ).toEqual([tenant.adminEmail]);
  });
});
