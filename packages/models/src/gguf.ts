/**
 * The parts of GGUF v3 (llama.cpp's model file format) that the tiny-model generator needs:
 * reading a file's key/value metadata (with the raw bytes of each entry, so entries can be
 * copied verbatim with their exact types) and writing a model with F32/F16 tensors.
 */

export const GGUF_ALIGNMENT = 32;

export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export enum GgmlType {
  F32 = 0,
  F16 = 1,
}

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufEntry {
  key: string;
  type: GgufType;
  value: GgufValue;
  /** The entry's bytes as stored (key, type, value): append to a writer to copy it exactly. */
  raw: Buffer;
}

const SCALAR_SIZE: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.BOOL]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

/** Reads the header and every key/value entry of a GGUF file (tensors are not read). */
export function readGgufMetadata(file: Buffer): Map<string, GgufEntry> {
  if (file.toString('latin1', 0, 4) !== 'GGUF') throw new Error('not a GGUF file');
  const version = file.readUInt32LE(4);
  if (version !== 3 && version !== 2) throw new Error(`GGUF version ${version} is not supported`);
  let pos = 8 + 8; // version, tensor count
  const kvCount = Number(file.readBigUInt64LE(pos));
  pos += 8;
  const string = () => {
    const length = Number(file.readBigUInt64LE(pos));
    const text = file.toString('utf8', pos + 8, pos + 8 + length);
    pos += 8 + length;
    return text;
  };
  const value = (type: GgufType): GgufValue => {
    switch (type) {
      case GgufType.STRING:
        return string();
      case GgufType.ARRAY: {
        const itemType = file.readUInt32LE(pos) as GgufType;
        const count = Number(file.readBigUInt64LE(pos + 4));
        pos += 12;
        const items: GgufValue[] = new Array(count);
        for (let i = 0; i < count; i++) items[i] = value(itemType);
        return items;
      }
      default: {
        const size = SCALAR_SIZE[type];
        if (!size) throw new Error(`unknown GGUF value type ${type}`);
        const at = pos;
        pos += size;
        switch (type) {
          case GgufType.UINT8:
            return file.readUInt8(at);
          case GgufType.INT8:
            return file.readInt8(at);
          case GgufType.BOOL:
            return file.readUInt8(at) !== 0;
          case GgufType.UINT16:
            return file.readUInt16LE(at);
          case GgufType.INT16:
            return file.readInt16LE(at);
          case GgufType.UINT32:
            return file.readUInt32LE(at);
          case GgufType.INT32:
            return file.readInt32LE(at);
          case GgufType.FLOAT32:
            return file.readFloatLE(at);
          case GgufType.UINT64:
            return file.readBigUInt64LE(at);
          case GgufType.INT64:
            return file.readBigInt64LE(at);
          default:
            return file.readDoubleLE(at);
        }
      }
    }
  };
  const entries = new Map<string, GgufEntry>();
  for (let i = 0; i < kvCount; i++) {
    const start = pos;
    const key = string();
    const type = file.readUInt32LE(pos) as GgufType;
    pos += 4;
    const v = value(type);
    entries.set(key, { key, type, value: v, raw: file.subarray(start, pos) });
  }
  return entries;
}

export interface GgufTensor {
  name: string;
  /** ggml order: `dims[0]` is the innermost (contiguous) dimension. */
  dims: number[];
  type: GgmlType;
  data: Buffer;
}

/** Builds a GGUF v3 file: metadata entries (built here or copied raw) and aligned tensors. */
export class GgufWriter {
  private readonly kvs: Buffer[] = [];
  private readonly tensors: GgufTensor[] = [];

  private static string(text: string): Buffer {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(bytes.length));
    return Buffer.concat([length, bytes]);
  }

  private add(key: string, type: GgufType, payload: Buffer) {
    const typeBytes = Buffer.alloc(4);
    typeBytes.writeUInt32LE(type);
    this.kvs.push(Buffer.concat([GgufWriter.string(key), typeBytes, payload]));
  }

  addString(key: string, value: string) {
    this.add(key, GgufType.STRING, GgufWriter.string(value));
  }

  addUint32(key: string, value: number) {
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(value);
    this.add(key, GgufType.UINT32, payload);
  }

  addFloat32(key: string, value: number) {
    const payload = Buffer.alloc(4);
    payload.writeFloatLE(value);
    this.add(key, GgufType.FLOAT32, payload);
  }

  /** An entry read by {@link readGgufMetadata}, byte for byte. */
  addRaw(entry: GgufEntry) {
    this.kvs.push(entry.raw);
  }

  addTensor(tensor: GgufTensor) {
    this.tensors.push(tensor);
  }

  /** The whole file: header, metadata, tensor infos, padding, tensor data. */
  toBuffer(): Buffer {
    const pad = (n: number) => (GGUF_ALIGNMENT - (n % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
    const header = Buffer.alloc(24);
    header.write('GGUF', 0, 'latin1');
    header.writeUInt32LE(3, 4);
    header.writeBigUInt64LE(BigInt(this.tensors.length), 8);
    header.writeBigUInt64LE(BigInt(this.kvs.length), 16);
    const infos: Buffer[] = [];
    const data: Buffer[] = [];
    let offset = 0;
    for (const tensor of this.tensors) {
      const info = Buffer.alloc(4 + 8 * tensor.dims.length + 4 + 8);
      info.writeUInt32LE(tensor.dims.length, 0);
      for (const [i, d] of tensor.dims.entries()) info.writeBigUInt64LE(BigInt(d), 4 + 8 * i);
      info.writeUInt32LE(tensor.type, 4 + 8 * tensor.dims.length);
      info.writeBigUInt64LE(BigInt(offset), 8 + 8 * tensor.dims.length);
      infos.push(GgufWriter.string(tensor.name), info);
      data.push(tensor.data, Buffer.alloc(pad(tensor.data.length)));
      offset += tensor.data.length + pad(tensor.data.length);
    }
    const head = Buffer.concat([header, ...this.kvs, ...infos]);
    return Buffer.concat([head, Buffer.alloc(pad(head.length)), ...data]);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary32 → binary16 bits, rounding to nearest even (subnormals included). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}
