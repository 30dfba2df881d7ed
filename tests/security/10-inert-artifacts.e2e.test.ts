import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStorage } from '@somaagent/ports';
import { FileSystemObjectStorage } from '@somaagent/workflows';
import { S3ObjectStorage } from '@somaagent/workflows/s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * Issue 14 item 10, stored artifacts are inert: a real capsule run through the router stores an
 * HTML page and an SVG image that carry scripts, a plain text file and one with a malformed type;
 * each download URL the graph hands out is fetched and its headers checked. Both object stores:
 * the embedded folder (its own signed-URL server) and S3 (the harness's MinIO, presigned URLs
 * with response-content-type / response-content-disposition overrides).
 */
const SCRIPTED = `name: scripted
version: 1.0.0
steps:
  - id: page
    kind: artifact
    name: page.html
    contentType: text/html
    content: "<html><body><script>fetch('/graphql')</script></body></html>"
  - id: logo
    kind: artifact
    name: logo.svg
    contentType: IMAGE/SVG+XML
    content: "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><script>alert(2)</script></svg>"
  - id: notes
    kind: artifact
    name: notes.txt
    contentType: text/plain; charset=utf-8
    content: "just text <script>alert(3)</script>"
  - id: odd
    kind: artifact
    name: odd.bin
    contentType: "text/html, <not a type>"
    content: "<script>alert(4)</script>"
  - id: untyped
    kind: artifact
    name: untyped.xhtml
    contentType: application/xhtml+xml
    content: "<html xmlns='http://www.w3.org/1999/xhtml'><script>alert(5)</script></html>"
`;

interface Artifact {
  name: string;
  contentType: string;
  downloadUrl: string;
}

async function minio(): Promise<{ storage: ObjectStorage; close(): Promise<void> }> {
  const s3 = inject('s3');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const bucket = `soma-inert-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { storage: new S3ObjectStorage(client, bucket), close: async () => client.destroy() };
}

async function folder(): Promise<{ storage: ObjectStorage; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'soma-inert-'));
  const storage = await FileSystemObjectStorage.open(dir);
  return {
    storage,
    close: async () => {
      await storage[Symbol.asyncDispose]();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['embedded folder', folder],
  ['S3 (MinIO)', minio],
] as const)('10 stored artifacts are inert (%s)', (store, open) => {
  let t: TestPlatform;
  let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;
  let close: () => Promise<void>;
  let artifacts: Map<string, Artifact>;

  beforeAll(async () => {
    const opened = await open();
    close = opened.close;
    t = await startTestPlatform({ objectStorage: opened.storage });
    tenant = await t.createTenant(`inert-${store === 'S3 (MinIO)' ? 's3' : 'fs'}`);
    const created = await t.gql(
      'mutation($s: String!) { createCapsule(source: $s) { id } }',
      { s: SCRIPTED },
      tenant.adminToken,
    );
    expect(created.errors).toBeUndefined();
    const started = await t.gql(
      'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }',
      { i: { name: 'scripted', inputs: {} } },
      tenant.adminToken,
    );
    expect(started.errors).toBeUndefined();
    const id = started.data.startCapsuleRun.id as string;
    for (let i = 0; i < 300; i++) {
      const got = await t.gql(
        'query($id: ID!) { capsuleRun(id: $id) { status error artifacts { name contentType downloadUrl } } }',
        { id },
        tenant.adminToken,
      );
      const run = got.data?.capsuleRun;
      if (run && run.status !== 'RUNNING') {
        expect(run.status, run.error).toBe('COMPLETED');
        artifacts = new Map((run.artifacts as Artifact[]).map((a) => [a.name, a]));
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`run ${id} did not finish`);
  }, 180_000);
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    await close?.();
  });

  const download = async (name: string) => {
    const artifact = artifacts.get(name);
    if (!artifact) throw new Error(`no artifact ${name}: ${[...artifacts.keys()].join(', ')}`);
    const res = await fetch(artifact.downloadUrl);
    const body = await res.text();
    const headers = Object.fromEntries(
      ['content-type', 'content-disposition', 'x-content-type-options', 'content-security-policy'].map(
        (h) => [h, res.headers.get(h)],
      ),
    );
    console.log(
      `${store} ${name} (declared ${artifact.contentType}): ${res.status} ${JSON.stringify(headers)}`,
    );
    return { res, body, headers, artifact };
  };

  it('an HTML page with a script: declared type, attachment, nosniff', async () => {
    const { res, body, headers } = await download('page.html');
    expect(res.status).toBe(200);
    expect(body).toContain('<script>');
    expect(headers['content-type']).toBe('text/html');
    expect(headers['content-disposition']).toBe(
      `attachment; filename="page.html"; filename*=UTF-8''page.html`,
    );
    expect(headers['x-content-type-options']).toBe('nosniff');
    if (store === 'embedded folder')
      expect(headers['content-security-policy']).toBe("default-src 'none'; sandbox");
  });

  it('an SVG with a script and XHTML: attachment too; the type is normalised, never sniffed', async () => {
    const svg = await download('logo.svg');
    expect(svg.artifact.contentType).toBe('image/svg+xml');
    expect(svg.headers['content-type']).toBe('image/svg+xml');
    expect(svg.headers['content-disposition']).toMatch(/^attachment; filename="logo.svg"/);
    expect(svg.headers['x-content-type-options']).toBe('nosniff');
    const xhtml = await download('untyped.xhtml');
    expect(xhtml.headers['content-type']).toBe('application/xhtml+xml');
    expect(xhtml.headers['content-disposition']).toMatch(/^attachment/);
  });

  it('plain text is shown inline; a malformed declared type is served as application/octet-stream', async () => {
    const notes = await download('notes.txt');
    expect(notes.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(notes.headers['content-disposition']).toMatch(/^inline; filename="notes.txt"/);
    expect(notes.headers['x-content-type-options']).toBe('nosniff');
    const odd = await download('odd.bin');
    expect(odd.artifact.contentType).toBe('application/octet-stream');
    expect(odd.headers['content-type']).toBe('application/octet-stream');
    expect(odd.headers['content-disposition']).toMatch(/^attachment/);
  });

  it('the served type is part of the signature: a URL asking for text/html instead is refused', async () => {
    const notes = artifacts.get('notes.txt')!;
    const url = new URL(notes.downloadUrl);
    let changed = false;
    for (const name of ['type', 'response-content-type']) {
      if (url.searchParams.has(name)) {
        url.searchParams.set(name, 'text/html');
        changed = true;
      }
    }
    expect(changed).toBe(true);
    const res = await fetch(url);
    await res.arrayBuffer();
    expect(res.status).toBe(403);
  });
});
