/**
 * Object-storage port for run artifacts. Distributed: any S3-compatible server (MinIO in tests).
 * Embedded: a folder on disk, with download URLs signed (HMAC) and served by the platform.
 */
export interface StoredObject {
  key: string;
  size: number;
  contentType: string;
}

export interface ObjectStorage extends AsyncDisposable {
  /** `s3`, `filesystem` */
  readonly kind: string;
  put(key: string, body: Uint8Array | string, contentType: string): Promise<StoredObject>;
  /** The bytes, or `null` when there is no such object. */
  get(key: string): Promise<Uint8Array | null>;
  /** A URL anyone holding it can GET until `expiresInSeconds` have passed; refused afterwards. */
  presignedGetUrl(key: string, expiresInSeconds: number): Promise<string>;
  delete(key: string): Promise<void>;
}
