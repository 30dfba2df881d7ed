import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { DownloadOptions, ObjectStorage, StoredObject } from '@somaagent/ports';
import { contentDisposition, safeContentType } from './inertDownload';

/** `ObjectStorage` on any S3-compatible server (MinIO in tests) through `@aws-sdk/client-s3`. */
export class S3ObjectStorage implements ObjectStorage {
  readonly kind = 's3';
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array | string, contentType: string): Promise<StoredObject> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const type = safeContentType(contentType);
    // Stored with the object too, so even a URL presigned without overrides is served inert.
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentType: type,
        ContentDisposition: contentDisposition(type),
      }),
    );
    return { key, size: bytes.byteLength, contentType: type };
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await got.Body!.transformToByteArray();
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NoSuchKey') return null;
      throw error;
    }
  }

  /**
   * The served type and disposition are signed response overrides (`response-content-type`,
   * `response-content-disposition`). S3 has no override for `X-Content-Type-Options` or CSP:
   * MinIO sends nosniff itself; see docs/security.md §10 for other servers.
   */
  presignedGetUrl(key: string, expiresInSeconds: number, download: DownloadOptions = {}): Promise<string> {
    const type = safeContentType(download.contentType);
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentType: type,
        ResponseContentDisposition: contentDisposition(type, download.filename),
        ResponseCacheControl: 'private, no-store',
      }),
      { expiresIn: expiresInSeconds },
    );
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** The S3Client belongs to the caller. */
  async [Symbol.asyncDispose](): Promise<void> {}
}
