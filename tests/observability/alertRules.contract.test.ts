import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The alert rules in observability/prometheus/ parse and behave as their unit tests say, checked by
 * the real `promtool` of the harness's Prometheus (engine `prometheus`).
 */
const promtool = process.env.SOMA_PROMTOOL;
if (!promtool) throw new Error('the test harness did not provide the prometheus engine (SOMA_PROMTOOL)');
const dir = resolve(import.meta.dirname, '../../observability/prometheus');
const exec = promisify(execFile);

describe('alert rules (promtool)', () => {
  it('`promtool check rules` accepts every rule', async () => {
    const { stdout } = await exec(promtool, ['check', 'rules', 'alerts.yml'], { cwd: dir });
    const found = Number(/SUCCESS: (\d+) rules found/.exec(stdout)?.[1]);
    console.log(`[alerts] ${found} rules`);
    expect(found).toBeGreaterThanOrEqual(11);
  });

  it('`promtool test rules`: each alert fires on the series that should fire it and not on healthy ones', async () => {
    const { stdout } = await exec(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
    expect(stdout).toContain('SUCCESS');
  });
});
