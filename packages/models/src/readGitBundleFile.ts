import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

/** Raised when the bundle is not a readable git bundle or lacks the file. */
export class GitBundleError extends Error {
  readonly code = 'ERR_GIT_BUNDLE';
  constructor(message: string) {
    super(message);
    this.name = 'GitBundleError';
  }
}

const TYPE_NAMES = ['', 'commit', 'tree', 'blob', 'tag'] as const;
const OFS_DELTA = 6;
const REF_DELTA = 7;

interface PackEntry {
  type: number;
  /** Where the zlib stream of this entry starts. */
  dataStart: number;
  baseOffset?: number;
  baseSha?: string;
}

/**
 * Reads one file of the bundle's HEAD commit (`path` like `models/x.gguf`) in pure Node, with
 * no `git` binary: the bundle's pack is walked object by object, commit → trees → blob, and the
 * blob's SHA-1 is checked against its tree entry.
 *
 * Used for llama.cpp's tokenizer vocabularies, which npm node-llama-cpp ships only inside
 * `llama/gitRelease.bundle`. Every object is inflated once (about 170 MB for that bundle,
 * ~1 s), so call it once and keep the result.
 */
export function readGitBundleFile(bundlePath: string, path: string): Buffer {
  const bundle = readFileSync(bundlePath);
  const headerEnd = bundle.indexOf('\n\n');
  const header = bundle.subarray(0, Math.max(headerEnd, 0)).toString('latin1').split('\n');
  if (headerEnd < 0 || !/^# v[23] git bundle$/.test(header[0] ?? ''))
    throw new GitBundleError(`${bundlePath} is not a git bundle`);
  const refs = header.slice(1).filter((line) => /^[0-9a-f]{40} /.test(line));
  const head = (refs.find((line) => line.endsWith(' HEAD')) ?? refs[0])?.slice(0, 40);
  if (!head) throw new GitBundleError(`${bundlePath} names no commit`);

  const pack = bundle.subarray(headerEnd + 2);
  if (pack.toString('latin1', 0, 4) !== 'PACK') throw new GitBundleError(`${bundlePath} has no pack`);
  const count = pack.readUInt32BE(8);

  const entries = new Map<number, PackEntry>();
  const offsetBySha = new Map<string, number>();
  const deltas: number[] = [];
  let pos = 12;
  for (let i = 0; i < count; i++) {
    const start = pos;
    let byte = pack[pos++]!;
    const type = (byte >> 4) & 7;
    while (byte & 0x80) byte = pack[pos++]!;
    const entry: PackEntry = { type, dataStart: pos };
    if (type === OFS_DELTA) {
      byte = pack[pos++]!;
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        byte = pack[pos++]!;
        distance = ((distance + 1) << 7) | (byte & 0x7f);
      }
      entry.baseOffset = start - distance;
      entry.dataStart = pos;
    } else if (type === REF_DELTA) {
      entry.baseSha = pack.toString('hex', pos, pos + 20);
      pos += 20;
      entry.dataStart = pos;
    }
    const { buffer, engine } = inflateSync(pack.subarray(pos), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    pos += engine.bytesWritten;
    entries.set(start, entry);
    if (type === OFS_DELTA || type === REF_DELTA) deltas.push(start);
    else offsetBySha.set(objectSha(type, buffer), start);
  }

  const cache = new Map<number, { type: number; data: Buffer }>();
  const load = (offset: number): { type: number; data: Buffer } => {
    const cached = cache.get(offset);
    if (cached) return cached;
    const entry = entries.get(offset);
    if (!entry) throw new GitBundleError(`pack entry at ${offset} is missing`);
    const raw = inflateSync(pack.subarray(entry.dataStart));
    let object: { type: number; data: Buffer };
    if (entry.type === OFS_DELTA || entry.type === REF_DELTA) {
      const baseOffset = entry.baseOffset ?? offsetBySha.get(entry.baseSha!);
      if (baseOffset === undefined) throw new GitBundleError(`delta base ${entry.baseSha} is missing`);
      const base = load(baseOffset);
      object = { type: base.type, data: applyDelta(base.data, raw) };
    } else object = { type: entry.type, data: raw };
    // Trees and commits are small and read repeatedly; blobs are read once.
    if (object.type !== 3) cache.set(offset, object);
    return object;
  };
  const get = (sha: string, type: number): Buffer => {
    for (let next = 0; !offsetBySha.has(sha) && next < deltas.length; next++) {
      const object = load(deltas[next]!);
      offsetBySha.set(objectSha(object.type, object.data), deltas[next]!);
    }
    const offset = offsetBySha.get(sha);
    if (offset === undefined) throw new GitBundleError(`object ${sha} is not in ${bundlePath}`);
    const object = load(offset);
    if (object.type !== type) throw new GitBundleError(`object ${sha} is a ${TYPE_NAMES[object.type]}`);
    return object.data;
  };

  const commit = get(head, 1).toString('utf8');
  let sha = /^tree ([0-9a-f]{40})$/m.exec(commit)?.[1];
  const parts = path.split('/');
  for (const [index, name] of parts.entries()) {
    if (!sha) break;
    sha = treeEntry(get(sha, 2), name);
    if (!sha) throw new GitBundleError(`${parts.slice(0, index + 1).join('/')} is not in ${bundlePath}`);
  }
  if (!sha) throw new GitBundleError(`commit ${head} has no tree`);
  return get(sha, 3);
}

function objectSha(type: number, data: Buffer): string {
  return createHash('sha1').update(`${TYPE_NAMES[type]} ${data.length}\0`).update(data).digest('hex');
}

/** Tree entries are `<mode> <name>\0<20-byte sha>`. */
function treeEntry(tree: Buffer, name: string): string | undefined {
  let pos = 0;
  while (pos < tree.length) {
    const space = tree.indexOf(0x20, pos);
    const nul = tree.indexOf(0, space);
    if (tree.toString('utf8', space + 1, nul) === name) return tree.toString('hex', nul + 1, nul + 21);
    pos = nul + 21;
  }
  return undefined;
}

/** Git's delta format: source and target sizes, then copy-from-base and insert instructions. */
function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let pos = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = delta[pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  if (varint() !== base.length) throw new GitBundleError('delta does not fit its base');
  const out = Buffer.alloc(varint());
  let written = 0;
  while (pos < delta.length) {
    const op = delta[pos++]!;
    if (op & 0x80) {
      let offset = 0;
      let size = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) offset += delta[pos++]! * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (1 << (4 + bit))) size += delta[pos++]! << (8 * bit);
      if (size === 0) size = 0x10000;
      written += base.copy(out, written, offset, offset + size);
    } else if (op > 0) {
      written += delta.copy(out, written, pos, pos + op);
      pos += op;
    } else throw new GitBundleError('delta has a reserved instruction');
  }
  if (written !== out.length) throw new GitBundleError('delta result has the wrong size');
  return out;
}
