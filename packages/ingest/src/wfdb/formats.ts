import type { BinaryFormat, WfdbFormat } from './header.ts';

/**
 * Digital value that marks a missing sample, per storage format (the most negative value the format
 * can hold). Format 8 stores first differences, so it has none.
 */
export const INVALID_SAMPLE: Record<WfdbFormat, number | undefined> = {
  8: undefined,
  80: -128,
  16: -32768,
  61: -32768,
  160: -32768,
  24: -8388608,
  32: -2147483648,
  212: -2048,
  310: -512,
  311: -512,
  508: -128,
  516: -32768,
  524: -8388608,
};

/** Bytes a stream of `samples` consecutive samples occupies, partial bit-packed groups included. */
export function bytesForSamples(format: BinaryFormat, samples: number): number {
  switch (format) {
    case 8:
    case 80:
      return samples;
    case 16:
    case 61:
    case 160:
      return samples * 2;
    case 24:
      return samples * 3;
    case 32:
      return samples * 4;
    case 212:
      // Two 12-bit samples in three bytes; a lone last sample takes two.
      return Math.floor(samples / 2) * 3 + (samples % 2) * 2;
    case 310:
    case 311:
      // Three 10-bit samples in two 16-bit words; one or two left over take one or two words.
      return Math.floor(samples / 3) * 4 + (samples % 3) * 2;
  }
}

/** How many whole samples `byteLength` bytes hold (inverse of `bytesForSamples`, rounding down). */
export function samplesInBytes(format: BinaryFormat, byteLength: number): number {
  switch (format) {
    case 8:
    case 80:
      return byteLength;
    case 16:
    case 61:
    case 160:
      return Math.floor(byteLength / 2);
    case 24:
      return Math.floor(byteLength / 3);
    case 32:
      return Math.floor(byteLength / 4);
    case 212:
      return Math.floor(byteLength / 3) * 2 + (byteLength % 3 >= 2 ? 1 : 0);
    case 310:
    case 311:
      return Math.floor(byteLength / 4) * 3 + (byteLength % 4 >= 2 ? 1 : 0);
  }
}

/**
 * Decodes the first `out.length` samples of one signal file's interleaved sample stream (all signals
 * of the file, frame after frame). Format 8 yields the raw first differences; the caller integrates
 * them per signal because the differences run along each signal, not along the stream.
 * `bytes` must hold at least `bytesForSamples(format, out.length)` bytes.
 */
export function decodeSampleStream(format: BinaryFormat, bytes: Uint8Array, out: Int32Array): void {
  const count = out.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (format) {
    case 8:
      for (let i = 0; i < count; i++) out[i] = (bytes[i]! << 24) >> 24;
      return;
    case 80:
      for (let i = 0; i < count; i++) out[i] = bytes[i]! - 128;
      return;
    case 16:
      decodeInt16LittleEndian(bytes, out);
      return;
    case 61:
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, false);
      return;
    case 160:
      for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, true) - 32768;
      return;
    case 24:
      for (let i = 0, b = 0; i < count; i++, b += 3) {
        out[i] = ((bytes[b]! | (bytes[b + 1]! << 8) | (bytes[b + 2]! << 16)) << 8) >> 8;
      }
      return;
    case 32:
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return;
    case 212:
      decode212(bytes, out);
      return;
    case 310:
      decode310(bytes, out);
      return;
    case 311:
      decode311(bytes, out);
      return;
  }
}

function decodeInt16LittleEndian(bytes: Uint8Array, out: Int32Array): void {
  const count = out.length;
  if (bytes.byteOffset % 2 === 0) {
    // Aligned: a typed view is several times faster than DataView calls (x86 and ARM are little-endian).
    const samples = new Int16Array(bytes.buffer, bytes.byteOffset, count);
    out.set(samples);
    return;
  }
  for (let i = 0, b = 0; i < count; i++, b += 2) out[i] = ((bytes[b]! | (bytes[b + 1]! << 8)) << 16) >> 16;
}

/** Sign-extends the low `bits` bits of `value`. */
function signExtend(value: number, bits: number): number {
  const shift = 32 - bits;
  return (value << shift) >> shift;
}

function decode212(bytes: Uint8Array, out: Int32Array): void {
  const count = out.length;
  for (let i = 0, b = 0; i < count; i += 2, b += 3) {
    const middle = bytes[b + 1]!;
    out[i] = signExtend(bytes[b]! | ((middle & 0x0f) << 8), 12);
    if (i + 1 < count) out[i + 1] = signExtend(bytes[b + 2]! | ((middle & 0xf0) << 4), 12);
  }
}

function decode310(bytes: Uint8Array, out: Int32Array): void {
  // Word 0 bits 1-10 and word 1 bits 1-10 hold samples 0 and 1; the top five bits of each word
  // hold the low and high halves of sample 2.
  const count = out.length;
  for (let i = 0, b = 0; i < count; i += 3, b += 4) {
    const first = bytes[b]! | (bytes[b + 1]! << 8);
    out[i] = signExtend(first >> 1, 10);
    if (i + 1 >= count) break;
    const second = bytes[b + 2]! | (bytes[b + 3]! << 8);
    out[i + 1] = signExtend(second >> 1, 10);
    if (i + 2 < count) out[i + 2] = signExtend((first >> 11) | ((second >> 11) << 5), 10);
  }
}

function decode311(bytes: Uint8Array, out: Int32Array): void {
  // One little-endian 32-bit word holds samples 0, 1, 2 in bits 0-9, 10-19, 20-29.
  const count = out.length;
  for (let i = 0, b = 0; i < count; i += 3, b += 4) {
    const low = bytes[b]! | (bytes[b + 1]! << 8);
    out[i] = signExtend(low, 10);
    if (i + 1 >= count) break;
    const word = low | (bytes[b + 2]! << 16) | (bytes[b + 3]! << 24);
    out[i + 1] = signExtend(word >>> 10, 10);
    if (i + 2 < count) out[i + 2] = signExtend(word >>> 20, 10);
  }
}
