import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve, sep } from 'node:path';
import type { ObjectStorage, StoredObject } from '@somaagent/ports';

export interface FileSystemObjectStorageOptions {
  /** HMAC key of download URLs. @default 32 random bytes (URLs die with the process) */
  secret?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 */
  port?: number;
}

const sign = (secret: string, key: string, expires: number) =>
  createHmac('sha256', secret).update(`${key}\n${expires}`).digest('hex');

function end(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(message);
}

/**
 * Embedded `ObjectStorage`: objects are files under one folder; download URLs carry an expiry and
 * an HMAC over key + expiry and are served by a small HTTP server this adapter runs, refusing
 * (403) an expired or altered URL as S3 does.
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
      const expected = sign(secret, key, expires);
      const valid =
        req.method === 'GET' &&
        url.pathname.startsWith('/objects/') &&
        signature.length === expected.length &&
        timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
      if (!valid) return end(res, 403, 'signature does not match');
      if (!(expires > Date.now() / 1000)) return end(res, 403, 'request has expired');
      const bytes = await storage!.get(key).catch(() => null);
      if (!bytes) return end(res, 404, 'no such object');
      res.writeHead(200, { 'content-length': bytes.byteLength });
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
    return { key, size: bytes.byteLength, contentType };
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async presignedGetUrl(key: string, expiresInSeconds: number): Promise<string> {
    const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const path = key.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl}/objects/${path}?expires=${expires}&signature=${sign(this.secret, key, expires)}`;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
