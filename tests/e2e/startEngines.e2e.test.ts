import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { publishPoliciesToOpa } from '@somaagent/policy';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_PASSWORD, gql } from '../support/platform';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

// `npm start` with SOMA_OPA_URL and SOMA_S3_* pointing at the harness's OPA server and MinIO:
// the banner names both engines, policy decisions go to the OPA server, artifacts to MinIO.
const root = resolve(import.meta.dirname, '../..');
const opa = inject('opa');
const s3 = inject('s3');
const bucket = `soma-start-${randomUUID().slice(0, 8)}`;
const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
const NOTE = `name: note
version: 1.0.0
steps:
  - { id: write, kind: artifact, name: note.md, contentType: text/markdown, content: "# from npm start" }
`;

/** This process's env minus every SOMA_* setting (the harness exports its servers'), plus `extra`. */
function onlyEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return { ...env, ...extra };
}

/** OPA's count of answered data-API requests (its Prometheus endpoint). */
async function opaDataRequests(): Promise<number> {
  const text = await (await fetch(`${opa.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('http_request_duration_seconds_count') && l.includes('handler="v1/data"'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

let dataDir: string;
let server: StartedProcess;
let url: string;

beforeAll(async () => {
  await publishPoliciesToOpa(opa.url);
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  dataDir = mkdtempSync(join(tmpdir(), 'soma-start-engines-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: onlyEnv({
      SOMA_PORT: String(port),
      SOMA_DATA_DIR: dataDir,
      SOMA_PLATFORM_ADMIN_KEY: platformAdminKey,
      SOMA_OPA_URL: opa.url,
      SOMA_S3_ENDPOINT: s3.endpoint,
      SOMA_S3_BUCKET: bucket,
      SOMA_S3_ACCESS_KEY_ID: s3.accessKeyId,
      SOMA_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      SOMA_S3_REGION: s3.region,
    }),
    readyLine: /JWKS: +\S+/,
  });
}, 120_000);

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start with the OPA server and S3 selected by environment variables', () => {
  it('names the engines in its banner', () => {
    expect(server.output()).toContain(`policy OPA server ${opa.url}`);
    expect(server.output()).toContain(`artifacts S3 ${s3.endpoint} bucket ${bucket}`);
    expect(server.output()).toContain('capsule runs journal engine, in-process');
  });

  it('asks the OPA server for policy decisions: allowed and denied as the policies say', async () => {
    const before = await opaDataRequests();
    const exchanged = await gql(url, 'mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: platformAdminKey,
    });
    const platformToken = exchanged.data.exchangeApiKey.accessToken as string;
    const created = await gql(
      url,
      'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
      {
        i: {
          slug: 'opa-acme',
          name: 'Acme',
          adminEmail: 'admin@opa-acme.test',
          adminPassword: ADMIN_PASSWORD,
          adminDisplayName: 'Admin',
        },
      },
      platformToken,
    );
    expect(created.errors).toBeUndefined();
    expect(await opaDataRequests()).toBeGreaterThan(before);

    const signedIn = await gql(url, 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'opa-acme', email: 'admin@opa-acme.test', password: ADMIN_PASSWORD },
    });
    const adminToken = signedIn.data.signIn.accessToken as string;
    const denied = await gql(
      url,
      'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
      {
        i: {
          slug: 'opa-other',
          name: 'Other',
          adminEmail: 'a@opa-other.test',
          adminPassword: ADMIN_PASSWORD,
          adminDisplayName: 'A',
        },
      },
      adminToken,
    );
    expect(denied.code).toBe('FORBIDDEN');

    // A capsule run's artifact lands in the MinIO bucket, downloadable through a presigned URL.
    const capsule = await gql(
      url,
      'mutation($s: String!) { createCapsule(source: $s) { id } }',
      { s: NOTE },
      adminToken,
    );
    expect(capsule.errors).toBeUndefined();
    const started = await gql(
      url,
      'mutation { startCapsuleRun(input: { name: "note" }) { id } }',
      {},
      adminToken,
    );
    expect(started.errors).toBeUndefined();
    const runId = started.data.startCapsuleRun.id as string;
    let run: { status: string; artifacts: { name: string; downloadUrl: string }[] } | undefined;
    for (let i = 0; i < 100; i++) {
      const got = await gql(
        url,
        'query($id: ID!) { capsuleRun(id: $id) { status artifacts { name downloadUrl } } }',
        { id: runId },
        adminToken,
      );
      run = got.data?.capsuleRun;
      if (run && run.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(run?.status).toBe('COMPLETED');
    expect(run!.artifacts).toHaveLength(1);
    expect(run!.artifacts[0]!.downloadUrl.startsWith(`${s3.endpoint}/${bucket}/`)).toBe(true);
    const download = await fetch(run!.artifacts[0]!.downloadUrl);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('# from npm start');
  }, 60_000);
});

describe('a bad or missing engine variable stops the process, naming it', () => {
  it('npm start: S3 without its bucket and keys, a malformed OPA URL (exit 2)', () => {
    const run = spawnSync('npm', ['start', '--silent'], {
      cwd: root,
      env: onlyEnv({ SOMA_DATA_DIR: dataDir, SOMA_S3_ENDPOINT: s3.endpoint, SOMA_OPA_URL: 'opa:8181' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('npm start: invalid configuration');
    expect(run.stderr).toContain('SOMA_OPA_URL: must be a URL, e.g. http://127.0.0.1:8181');
    expect(run.stderr).toContain('SOMA_S3_BUCKET: required with SOMA_S3_ENDPOINT');
    expect(run.stderr).toContain('SOMA_S3_SECRET_ACCESS_KEY: required with SOMA_S3_ENDPOINT');
  });

  it('npm run worker: Temporal without its address (exit 2)', () => {
    const run = spawnSync('npm', ['run', '--silent', 'worker'], {
      cwd: root,
      env: onlyEnv({ SOMA_WORKER_ENGINE: 'temporal', SOMA_DATABASE_URL: inject('postgres').appUrl }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'worker: invalid configuration\n  SOMA_TEMPORAL_ADDRESS: required with SOMA_WORKER_ENGINE=temporal',
    );
  });
});
