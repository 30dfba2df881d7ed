import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStorage } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FileSystemObjectStorage } from '../src/storage/FileSystemObjectStorage';
import { S3ObjectStorage } from '../src/storage/S3ObjectStorage';

/** One suite for the ObjectStorage port: the harness's MinIO (credentials enforced) and the embedded folder. */
const adapters: [string, () => Promise<{ storage: ObjectStorage; close(): Promise<void> }>][] = [
  [
    'S3 (MinIO)',
    async () => {
      const s3 = inject('s3');
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        maxAttempts: 1,
      });
      const bucket = `soma-artifacts-${randomUUID().slice(0, 8)}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const storage = new S3ObjectStorage(client, bucket);
      return {
        storage,
        close: async () => {
          for (const key of created) await storage.delete(key);
          await client.send(new DeleteBucketCommand({ Bucket: bucket }));
          client.destroy();
        },
      };
    },
  ],
  [
    'filesystem',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'soma-objects-'));
      const storage = await FileSystemObjectStorage.open(dir);
      return {
        storage,
        close: async () => {
          await storage[Symbol.asyncDispose]();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];
const created: string[] = [];

describe.each(adapters)('ObjectStorage contract: %s', (_name, open) => {
  let h: Awaited<ReturnType<(typeof adapters)[number][1]>>;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('puts and gets bytes; a missing key is null', async () => {
    const key = `tenants/t1/runs/r1/step/${randomUUID()}.txt`;
    created.push(key);
    expect(await h.storage.put(key, 'héllo artifact', 'text/plain')).toEqual({
      key,
      size: 15,
      contentType: 'text/plain',
    });
    expect(Buffer.from((await h.storage.get(key))!).toString()).toBe('héllo artifact');
    expect(await h.storage.get(`${key}.missing`)).toBeNull();
  });

  it('serves a presigned URL to plain fetch until it expires; a tampered URL is refused', async () => {
    const key = `tenants/t1/runs/r1/report/${randomUUID()}.md`;
    created.push(key);
    await h.storage.put(key, '# report', 'text/markdown');
    const url = await h.storage.presignedGetUrl(key, 60);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('# report');

    const tampered = new URL(url);
    tampered.pathname = tampered.pathname.replace('.md', '.txt');
    expect((await fetch(tampered)).status).toBe(403);

    const shortLived = await h.storage.presignedGetUrl(key, 1);
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await fetch(shortLived);
    expect(expired.status).toBe(403);
  });

  it('serves downloads inert: declared type, attachment for active types, a malformed type as octet-stream', async () => {
    const html = `tenants/t1/runs/r1/page/${randomUUID()}.html`;
    created.push(html);
    const stored = await h.storage.put(html, '<script>alert(1)</script>', 'TEXT/HTML; charset=utf-8');
    expect(stored.contentType).toBe('text/html; charset=utf-8');
    const page = await fetch(
      await h.storage.presignedGetUrl(html, 60, { contentType: stored.contentType, filename: 'pagé.html' }),
    );
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-disposition')).toBe(
      `attachment; filename="pag_.html"; filename*=UTF-8''pag%C3%A9.html`,
    );
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    await page.arrayBuffer();
    // Not presigned with a type: served as the type stored with the object (S3) or as bytes.
    const bare = await fetch(await h.storage.presignedGetUrl(html, 60));
    expect(bare.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(bare.headers.get('content-type')).not.toBe('text/html');
    await bare.arrayBuffer();

    const odd = `tenants/t1/runs/r1/odd/${randomUUID()}`;
    created.push(odd);
    const weird = await h.storage.put(odd, '<svg onload=alert(1)>', 'text/html\r\nx-evil: 1');
    expect(weird.contentType).toBe('application/octet-stream');
    const got = await fetch(await h.storage.presignedGetUrl(odd, 60, { contentType: 'image/svg+xml<' }));
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(got.headers.get('content-disposition')).toBe('attachment');
    expect(got.headers.get('x-evil')).toBeNull();
    await got.arrayBuffer();

    const text = `tenants/t1/runs/r1/text/${randomUUID()}.txt`;
    created.push(text);
    await h.storage.put(text, 'plain', 'text/plain');
    const url = await h.storage.presignedGetUrl(text, 60, { contentType: 'text/plain', filename: 'a.txt' });
    const inline = await fetch(url);
    expect(inline.headers.get('content-disposition')).toBe(
      `inline; filename="a.txt"; filename*=UTF-8''a.txt`,
    );
    await inline.arrayBuffer();
    // The served type is part of the signature: changing it in the URL is refused.
    const retyped = new URL(url);
    for (const name of ['type', 'response-content-type']) {
      if (retyped.searchParams.has(name)) retyped.searchParams.set(name, 'text/html');
    }
    expect((await fetch(retyped)).status).toBe(403);
  });

  it('deletes', async () => {
    const key = `tenants/t1/${randomUUID()}`;
    await h.storage.put(key, new Uint8Array([1, 2, 3]), 'application/octet-stream');
    await h.storage.delete(key);
    expect(await h.storage.get(key)).toBeNull();
  });
});
