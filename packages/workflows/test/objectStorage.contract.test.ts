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

  it('deletes', async () => {
    const key = `tenants/t1/${randomUUID()}`;
    await h.storage.put(key, new Uint8Array([1, 2, 3]), 'application/octet-stream');
    await h.storage.delete(key);
    expect(await h.storage.get(key)).toBeNull();
  });
});
