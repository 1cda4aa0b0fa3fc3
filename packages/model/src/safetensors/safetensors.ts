import { readFile } from 'node:fs/promises';
import { InputError, writeFileAtomic } from '@enecg/common';

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`, then the raw
 * little-endian tensor bytes. Offsets are relative to the end of the header.
 */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
/** Headers larger than this are not weights files; refusing them bounds what a corrupt file can allocate. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor, converted to float32 whatever its stored floating-point dtype. */
export interface Tensor {
  storedDtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  return decodeSafetensors(new Uint8Array(await readFile(path)), path);
}

/** Parses a safetensors buffer; `source` names the file in errors. */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsContents {
  const fail = (reason: string, tensor?: string): never => {
    throw new InputError(reason, tensor === undefined ? { file: source } : { file: source, field: tensor });
  };
  if (bytes.byteLength < 8) fail('file is shorter than the 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    fail(`header length ${headerLength} exceeds the file size ${bytes.byteLength}`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    return fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not an object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = raw as HeaderEntry;
    if (!(entry.dtype in BYTES_PER_ELEMENT)) {
      fail(`dtype ${String(entry.dtype)} is not a floating-point dtype this reader supports`, name);
    }
    const dtype = entry.dtype as SafetensorsDtype;
    if (!Array.isArray(entry.shape) || entry.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      fail('shape is not a list of non-negative integers', name);
    }
    const [begin, end] = entry.data_offsets ?? [];
    if (
      !Number.isInteger(begin) ||
      !Number.isInteger(end) ||
      begin! < 0 ||
      end! < begin! ||
      end! > dataLength
    ) {
      fail(
        `data_offsets ${JSON.stringify(entry.data_offsets)} lie outside the ${dataLength}-byte data`,
        name,
      );
    }
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (count * BYTES_PER_ELEMENT[dtype] !== end! - begin!) {
      fail(
        `shape [${entry.shape}] of ${dtype} needs ${count * BYTES_PER_ELEMENT[dtype]} bytes, offsets give ${end! - begin!}`,
        name,
      );
    }
    tensors.set(name, {
      storedDtype: dtype,
      shape: [...entry.shape],
      data: toFloat32(bytes.subarray(dataStart + begin!, dataStart + end!), dtype, count),
    });
  }
  return { tensors, metadata };
}

function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'F32':
        out[i] = view.getFloat32(i * 4, true);
        break;
      case 'F64':
        out[i] = view.getFloat64(i * 8, true);
        break;
      case 'F16':
        out[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
      case 'BF16':
        out[i] = bfloat16ToFloat(view.getUint16(i * 2, true));
        break;
    }
  }
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));

function bfloat16ToFloat(bits: number): number {
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Tensors to write, stored as F32 in name order so that equal inputs give byte-identical files. */
export type TensorsToWrite = Record<string, { shape: readonly number[]; data: Float32Array }>;

export function encodeSafetensors(
  tensors: TensorsToWrite,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name]!;
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new RangeError(`tensor ${name}: shape [${shape}] holds ${count} values, data has ${data.length}`);
    }
    header[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  let headerText = JSON.stringify(header);
  // Readers may map the data section directly; padding keeps it 8-byte aligned as the format recommends.
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors[name]!;
    for (let i = 0; i < data.length; i++) view.setFloat32(position + i * 4, data[i]!, true);
    position += data.length * 4;
  }
  return out;
}

export async function writeSafetensors(
  path: string,
  tensors: TensorsToWrite,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
