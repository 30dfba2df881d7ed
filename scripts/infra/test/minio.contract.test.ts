import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The harness S3 server (MinIO) behaves like production object storage as far as SomaAgent
 * relies on it, through the client the product uses (`@aws-sdk/client-s3`): buckets, objects,
 * listing, presigned URLs with expiry, and signatures checked against the secret key.
 */
const s3 = inject('s3');

function client(secretAccessKey = s3.secretAccessKey) {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey },
    // A refused request must fail now, not be retried into a timeout.
    maxAttempts: 1,
  });
}

const bucket = `soma-contract-${randomUUID().slice(0, 8)}`;
let storage: S3Client;

beforeAll(async () => {
  storage = client();
  await storage.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  const listed = await storage.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const object of listed.Contents ?? []) {
    await storage.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
  }
  await storage.send(new DeleteBucketCommand({ Bucket: bucket }));
  storage.destroy();
});

describe('harness S3 server (MinIO) through @aws-sdk/client-s3', () => {
  it('listens on 127.0.0.1 and has created the bucket', async () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const head = await storage.send(new HeadBucketCommand({ Bucket: bucket }));
    expect(head.$metadata.httpStatusCode).toBe(200);
  });

  it('puts, gets and lists objects, keeping bytes and metadata', async () => {
    const body = Buffer.from(`héllo ${randomUUID()}\n`);
    await storage.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'docs/a.txt',
        Body: body,
        ContentType: 'text/plain; charset=utf-8',
        Metadata: { tenant: 't-1' },
      }),
    );
    await storage.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'docs/b.bin', Body: Buffer.alloc(70_000, 7) }),
    );
    await storage.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/c.txt', Body: 'c' }));

    const got = await storage.send(new GetObjectCommand({ Bucket: bucket, Key: 'docs/a.txt' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(got.ContentType).toBe('text/plain; charset=utf-8');
    expect(got.Metadata).toEqual({ tenant: 't-1' });
    expect(got.ContentLength).toBe(body.length);

    const listed = await storage.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'docs/' }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([
      ['docs/a.txt', body.length],
      ['docs/b.bin', 70_000],
    ]);
    const delimited = await storage.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(delimited.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['docs/', 'other/']);
  });

  it('answers NoSuchKey for a missing object', async () => {
    const error = await storage
      .send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect((error as S3ServiceException).name).toBe('NoSuchKey');
    expect((error as S3ServiceException).$metadata.httpStatusCode).toBe(404);
  });

  it('serves a presigned GET URL to plain fetch, and refuses it once expired', async () => {
    await storage.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared.txt', Body: 'presigned body' }));
    const fresh = await getSignedUrl(storage, new GetObjectCommand({ Bucket: bucket, Key: 'shared.txt' }), {
      expiresIn: 60,
    });
    expect(fresh.startsWith(`${s3.endpoint}/${bucket}/shared.txt?`)).toBe(true);
    const ok = await fetch(fresh);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('presigned body');

    // Without a signature the same object is private.
    const anonymous = await fetch(`${s3.endpoint}/${bucket}/shared.txt`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain('<Code>AccessDenied</Code>');

    const shortLived = await getSignedUrl(
      storage,
      new GetObjectCommand({ Bucket: bucket, Key: 'shared.txt' }),
      { expiresIn: 1 },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const expired = await fetch(shortLived);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('Request has expired');
  });

  it('rejects a presigned URL whose query was tampered with', async () => {
    const url = new URL(
      await getSignedUrl(storage, new GetObjectCommand({ Bucket: bucket, Key: 'shared.txt' }), {
        expiresIn: 60,
      }),
    );
    url.pathname = `/${bucket}/docs/a.txt`;
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('rejects a client with a wrong secret key (SignatureDoesNotMatch, 403), reading and writing', async () => {
    const wrong = client(`${s3.secretAccessKey}x`);
    try {
      for (const command of [
        new GetObjectCommand({ Bucket: bucket, Key: 'shared.txt' }),
        new PutObjectCommand({ Bucket: bucket, Key: 'intruder.txt', Body: 'x' }),
        new ListObjectsV2Command({ Bucket: bucket }),
      ]) {
        // biome-ignore lint/suspicious/noExplicitAny: three command types through one send
        const error = await wrong.send(command as any).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(S3ServiceException);
        expect((error as S3ServiceException).name).toBe('SignatureDoesNotMatch');
        expect((error as S3ServiceException).$metadata.httpStatusCode).toBe(403);
      }
      const unknownKey = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: 'not-a-user', secretAccessKey: s3.secretAccessKey },
        maxAttempts: 1,
      });
      const error = await unknownKey
        .send(new ListObjectsV2Command({ Bucket: bucket }))
        .catch((e: unknown) => e);
      unknownKey.destroy();
      expect((error as S3ServiceException).name).toBe('InvalidAccessKeyId');
      expect((error as S3ServiceException).$metadata.httpStatusCode).toBe(403);
    } finally {
      wrong.destroy();
    }
    // Nothing was written by the refused client.
    const listed = await storage.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'intruder' }));
    expect(listed.KeyCount).toBe(0);
  });
});
