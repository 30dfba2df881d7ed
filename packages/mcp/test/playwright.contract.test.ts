import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpClient } from '../src/index';
import { stdioServer } from './serverProcesses';

// @playwright/mcp from npm driving Debian's Chromium, headless, on a page served from 127.0.0.1 by
// the test. The harness installs the browser (engine `chromium`); a missing one fails the run.
const CHROMIUM = process.env.SOMA_CHROMIUM;
if (!CHROMIUM) throw new Error('the test harness did not provide the chromium engine (SOMA_CHROMIUM)');

const PAGE = `<!doctype html><title>Launch control</title>
<h1 id="status">Waiting</h1>
<button onclick="document.getElementById('status').textContent = 'Launched'">Launch</button>`;

describe('@playwright/mcp with Chromium', () => {
  let client: McpClient;
  let site: Server;
  let siteUrl: string;
  let workdir: string;
  const requests: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: the chromium engine did not install it`);
    site = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}/launch`;
    workdir = await mkdtemp(join(tmpdir(), 'somaagent-playwright-mcp-'));
    client = new McpClient({
      transport: {
        ...stdioServer('@playwright/mcp', [
          '--headless',
          '--executable-path',
          CHROMIUM,
          '--isolated',
          // As root (the harness runs as root) Chromium refuses to start with its sandbox on.
          '--no-sandbox',
          '--output-dir',
          join(workdir, 'output'),
        ]),
        cwd: workdir,
      },
      protocol: '2025-11-25',
      label: 'playwright',
      requestTimeoutMs: 45_000,
    });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await new Promise<void>((resolve) => site?.close(() => resolve()));
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  it('offers the browser tools', async () => {
    expect(client.serverInfo).toMatchObject({ name: 'Playwright', protocolVersion: '2025-11-25' });
    expect((await client.listTools()).map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['browser_navigate', 'browser_snapshot', 'browser_click', 'browser_evaluate']),
    );
  });

  it('loads a page in Chromium, clicks a button found in the accessibility snapshot, and sees the page change', async () => {
    const navigated = await client.callTool('browser_navigate', { url: siteUrl });
    expect(navigated.isError).toBeFalsy();
    expect(requests).toContain('GET /launch');

    const snapshot = JSON.stringify((await client.callTool('browser_snapshot', {})).content);
    expect(snapshot).toContain('Launch control');
    expect(snapshot).toContain('Waiting');
    const ref = /button \\"Launch\\" \[ref=(e\d+)\]/.exec(snapshot)?.[1];
    expect(ref).toBeDefined();

    const clicked = await client.callTool('browser_click', { element: 'Launch button', target: ref });
    expect(clicked.isError).toBeFalsy();
    const status = await client.callTool('browser_evaluate', {
      function: "() => document.getElementById('status').textContent",
    });
    expect(JSON.stringify(status.content)).toContain('Launched');
  });
});
