import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { opaBinary } from '../../../scripts/infra/engines/opa';
import { POLICIES_DIR } from '../src/index';

const exec = promisify(execFile);

/**
 * `opa test` of the Rego unit tests in policies/, part of `npm test` (the contract project's
 * global setup builds the harness's `opa`). Also: strict compile checks and `opa fmt`.
 */
describe('policies/ under the real opa', () => {
  it('opa check --strict accepts every module', async () => {
    await exec(opaBinary(), ['check', '--strict', POLICIES_DIR]);
  });

  it('opa test passes every test', async () => {
    const { stdout } = await exec(opaBinary(), ['test', POLICIES_DIR, '-v']).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`opa test failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      },
    );
    const summary = /PASS: (\d+)\/(\d+)/.exec(stdout);
    expect(summary, stdout).not.toBeNull();
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(25);
    expect(summary?.[1]).toBe(summary?.[2]);
  });

  it('is formatted (opa fmt --list prints nothing)', async () => {
    const { stdout } = await exec(opaBinary(), ['fmt', '--list', POLICIES_DIR]);
    expect(stdout.trim()).toBe('');
  });
});
