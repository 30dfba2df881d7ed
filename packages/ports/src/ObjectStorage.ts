/**
 * Object-storage port for run artifacts. Distributed: any S3-compatible server (MinIO in tests).
 * Embedded: a folder on disk, with download URLs signed (HMAC) and served by the platform.
 */
export interface StoredObject {
  key: string;
  size: number;
  contentType: string;
}

/** How a download is served. */
export interface DownloadOptions {
  /** The declared media type. @default 'application/octet-stream' */
  contentType?: string;
  /** The name a browser saves it under. @default none */
  filename?: string;
}

export interface ObjectStorage extends AsyncDisposable {
  /** `s3`, `filesystem` */
  readonly kind: string;
  put(key: string, body: Uint8Array | string, contentType: string): Promise<StoredObject>;
  /** The bytes, or `null` when there is no such object. */
  get(key: string): Promise<Uint8Array | null>;
  /**
   * A URL anyone holding it can GET until `expiresInSeconds` have passed; refused afterwards.
   * The download is served inert: `download.contentType` if well-formed (else
   * application/octet-stream), `nosniff`, `attachment` for active types (docs/security.md §10).
   */
  presignedGetUrl(key: string, expiresInSeconds: number, download?: DownloadOptions): Promise<string>;
  delete(key: string): Promise<void>;
}
