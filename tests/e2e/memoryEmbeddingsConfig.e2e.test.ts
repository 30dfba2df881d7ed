import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from '../support/platform';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

// `npm start` with SOMA_EMBEDDINGS_BASE_URL: memory embeds through the OpenAI-compatible adapter
// (here the harness's llama-server, /v1/embeddings, soma-tiny: 128-d, untrained — mechanics only)
// instead of the embedded model, and records that model with the collection.
const root = resolve(import.meta.dirname, '../..');
const llmBaseUrl = process.env.SOMA_LLM_BASE_URL;
if (!llmBaseUrl) throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL)');
const llmModel = process.env.SOMA_LLM_MODEL ?? 'soma-tiny';

/** This process's env minus every SOMA_* setting (the harness exports its servers'): embedded mode. */
function embeddedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return { ...env, ...extra };
}

let dataDir: string;
let server: StartedProcess;
let url: string;
const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'soma-embeddings-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: embeddedEnv({
      SOMA_PORT: String(port),
      SOMA_DATA_DIR: dataDir,
      SOMA_PLATFORM_ADMIN_KEY: platformAdminKey,
      SOMA_EMBEDDINGS_BASE_URL: llmBaseUrl,
      SOMA_EMBEDDINGS_MODEL: llmModel,
      SOMA_EMBEDDINGS_DIMENSION: '128',
      ...(process.env.SOMA_LLM_API_KEY ? { SOMA_EMBEDDINGS_API_KEY: process.env.SOMA_LLM_API_KEY } : {}),
    }),
    readyLine: /GraphQL endpoint: \S+/,
  });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start: SOMA_EMBEDDINGS_* selects the OpenAI-compatible embedder', () => {
  it('prints the embedder and records its model and dimension with the collection', async () => {
    expect(server.output()).toContain(`Embeddings:       ${llmModel} (128-d, ${llmBaseUrl})`);
    const platform = await gql(url, 'mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: platformAdminKey,
    });
    expect(platform.errors).toBeUndefined();
    const created = await gql(
      url,
      `mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }`,
      {
        i: {
          slug: 'emb',
          name: 'Embeddings',
          adminEmail: 'admin@emb.test',
          adminPassword: 'correct horse battery staple',
          adminDisplayName: 'Admin',
        },
      },
      platform.data.exchangeApiKey.accessToken,
    );
    expect(created.errors).toBeUndefined();
    const signed = await gql(url, 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'emb', email: 'admin@emb.test', password: 'correct horse battery staple' },
    });
    const token = signed.data.signIn.accessToken as string;
    const stored = await gql(
      url,
      'mutation { remember(input: { text: "Backups run nightly at 02:00." }) { id } }',
      {},
      token,
    );
    expect(stored.errors).toBeUndefined();
    const collections = await gql(url, '{ memoryCollections { name model dimension } }', {}, token);
    expect(collections.data.memoryCollections).toEqual([
      { name: 'default', model: llmModel, dimension: 128 },
    ]);
    const recalled = await gql(
      url,
      '{ recall(input: { query: "when do backups run?", k: 1, mode: VECTOR }) { item { id } similarity } }',
      {},
      token,
    );
    expect(recalled.errors).toBeUndefined();
    expect(recalled.data.recall[0].item.id).toBe(stored.data.remember.id);
  });

  it('refuses SOMA_EMBEDDINGS_BASE_URL without a model and dimension, at start-up', () => {
    const run = spawnSync('npm', ['start', '--silent'], {
      cwd: root,
      env: embeddedEnv({ SOMA_DATA_DIR: dataDir, SOMA_EMBEDDINGS_BASE_URL: llmBaseUrl! }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'SOMA_EMBEDDINGS_BASE_URL needs SOMA_EMBEDDINGS_MODEL and SOMA_EMBEDDINGS_DIMENSION',
    );
  });
});
