import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve, sep } from 'node:path';
import type { DownloadOptions, ObjectStorage, StoredObject } from '@somaagent/ports';
import { inertDownloadHeaders, safeContentType } from './inertDownload';

export interface FileSystemObjectStorageOptions {
  /** HMAC key of download URLs. @default 32 random bytes (URLs die with the process) */
  secret?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 */
  port?: number;
}

// The served type and file name are signed with the key, as S3 signs response-content-type.
const sign = (secret: string, key: string, expires: number, type: string, name: string) =>
  createHmac('sha256', secret).update(`${key}\n${expires}\n${type}\n${name}`).digest('hex');

function end(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(message);
}

/**
 * Embedded `ObjectStorage`: objects are files under one folder; download URLs carry an expiry,
 * the type and file name to serve, and an HMAC over all of them; a small HTTP server this adapter
 * runs serves them inert (inertDownloadHeaders), refusing (403) an expired or altered URL as S3 does.
 */
export class FileSystemObjectStorage implements ObjectStorage {
  readonly kind = 'filesystem';
  private constructor(
    private readonly root: string,
    private readonly secret: string,
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async open(
    root: string,
    options: FileSystemObjectStorageOptions = {},
  ): Promise<FileSystemObjectStorage> {
    const folder = resolve(root);
    await mkdir(folder, { recursive: true });
    const secret = options.secret ?? randomBytes(32).toString('hex');
    let storage: FileSystemObjectStorage | undefined;
    const server = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://storage');
      const key = decodeURIComponent(url.pathname.replace(/^\/objects\//, ''));
      const expires = Number(url.searchParams.get('expires'));
      const signature = url.searchParams.get('signature') ?? '';
      const type = url.searchParams.get('type') ?? '';
      const name = url.searchParams.get('name') ?? '';
      const expected = sign(secret, key, expires, type, name);
      const valid =
        req.method === 'GET' &&
        url.pathname.startsWith('/objects/') &&
        signature.length === expected.length &&
        timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
      if (!valid) return end(res, 403, 'signature does not match');
      if (!(expires > Date.now() / 1000)) return end(res, 403, 'request has expired');
      const bytes = await storage!.get(key).catch(() => null);
      if (!bytes) return end(res, 404, 'no such object');
      res.writeHead(200, {
        ...inertDownloadHeaders({ contentType: type, ...(name ? { filename: name } : {}) }),
        'content-length': bytes.byteLength,
      });
      res.end(bytes);
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => ok());
    });
    const address = server.address() as AddressInfo;
    storage = new FileSystemObjectStorage(
      folder,
      secret,
      server,
      `http://${address.address}:${address.port}`,
    );
    return storage;
  }

  private path(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error(`object key ${key} leaves the storage folder`);
    return path;
  }

  async put(key: string, body: Uint8Array | string, contentType: string): Promise<StoredObject> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    return { key, size: bytes.byteLength, contentType: safeContentType(contentType) };
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async presignedGetUrl(
    key: string,
    expiresInSeconds: number,
    download: DownloadOptions = {},
  ): Promise<string> {
    const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const path = key.split('/').map(encodeURIComponent).join('/');
    const type = safeContentType(download.contentType);
    const name = download.filename ?? '';
    const query = new URLSearchParams({ expires: String(expires), type, ...(name ? { name } : {}) });
    query.set('signature', sign(this.secret, key, expires, type, name));
    return `${this.baseUrl}/objects/${path}?${query}`;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
