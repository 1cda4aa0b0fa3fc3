import type { ByteSink } from './byte-sink.ts';

/** Parquet `Encoding` values this writer uses. */
export const Encoding = { plain: 0, rle: 3, deltaBinaryPacked: 5 } as const;

const BLOCK_VALUES = 128;
const MINIBLOCKS = 4;
const MINIBLOCK_VALUES = BLOCK_VALUES / MINIBLOCKS;
/** Worst case of one block: min delta (5-byte varint), bit widths, four 32-bit-wide miniblocks. */
const MAX_BLOCK_BYTES = 5 + MINIBLOCKS + MINIBLOCKS * MINIBLOCK_VALUES * 4;

const deltas = new Int32Array(BLOCK_VALUES);

/**
 * DELTA_BINARY_PACKED (Parquet Encodings.md) of `values[0, count)` as 32-bit integers: header (block
 * size 128, 4 miniblocks, value count, first value), then per block of 128 deltas its minimum and
 * four miniblocks of 32 bit-packed (delta - minimum) values, each at the width its largest value
 * needs. Deltas wrap in 32-bit arithmetic, as the format prescribes for INT32 columns.
 */
export function writeDeltaBinaryPacked(sink: ByteSink, values: Int32Array, count: number): void {
  sink.varint(BLOCK_VALUES);
  sink.varint(MINIBLOCKS);
  sink.varint(count);
  sink.varint(count === 0 ? 0 : zigzag32(values[0]!));
  if (count <= 1) return;
  sink.reserve(Math.ceil((count - 1) / BLOCK_VALUES) * MAX_BLOCK_BYTES);
  const out = sink.bytes;
  let position = sink.length;
  for (let start = 1; start < count; start += BLOCK_VALUES) {
    const n = Math.min(BLOCK_VALUES, count - start);
    let previous = values[start - 1]!;
    let minDelta = 0x7fffffff;
    for (let i = 0; i < n; i++) {
      const value = values[start + i]!;
      const delta = (value - previous) | 0;
      deltas[i] = delta;
      if (delta < minDelta) minDelta = delta;
      previous = value;
    }
    // Padding of a short last block: zero after subtracting the minimum.
    for (let i = n; i < BLOCK_VALUES; i++) deltas[i] = minDelta;
    let rest = zigzag32(minDelta);
    while (rest >= 0x80) {
      out[position++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    out[position++] = rest;
    const widthsAt = position;
    position += MINIBLOCKS;
    const miniblocks = Math.ceil(n / MINIBLOCK_VALUES);
    for (let m = 0; m < MINIBLOCKS; m++) {
      if (m >= miniblocks) {
        // Miniblocks past the last value keep a width byte (zero) and no body.
        out[widthsAt + m] = 0;
        continue;
      }
      const first = m * MINIBLOCK_VALUES;
      let any = 0;
      for (let i = first; i < first + MINIBLOCK_VALUES; i++) any |= (deltas[i]! - minDelta) | 0;
      const width = any === 0 ? 0 : 32 - Math.clz32(any);
      out[widthsAt + m] = width;
      if (width > 0) position = packMiniblock(out, position, first, minDelta, width);
    }
  }
  sink.length = position;
}

/** Bit-packs 32 values (delta - minDelta) of `width` bits, least significant bit first. */
function packMiniblock(out: Uint8Array, at: number, first: number, minDelta: number, width: number): number {
  let position = at;
  let word = 0;
  let bits = 0;
  for (let i = first; i < first + MINIBLOCK_VALUES; i++) {
    const value = (deltas[i]! - minDelta) | 0;
    word |= value << bits;
    bits += width;
    if (bits >= 32) {
      out[position] = word;
      out[position + 1] = word >>> 8;
      out[position + 2] = word >>> 16;
      out[position + 3] = word >>> 24;
      position += 4;
      bits -= 32;
      word = bits > 0 ? value >>> (width - bits) : 0;
    }
  }
  return position;
}

function zigzag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/**
 * Repetition or definition levels in the RLE/bit-packing hybrid, as runs of equal values (levels of
 * ECG columns are long runs: a list of n samples is one 0 then n - 1 ones). Adjacent runs of the
 * same value merge. `finish()` writes the last run.
 */
export class LevelRuns {
  private value = -1;
  private count = 0;

  constructor(
    private readonly sink: ByteSink,
    private readonly bitWidth: number,
  ) {}

  add(value: number, count: number): void {
    if (count === 0) return;
    if (value === this.value) {
      this.count += count;
      return;
    }
    this.flush();
    this.value = value;
    this.count = count;
  }

  finish(): void {
    this.flush();
    this.value = -1;
  }

  private flush(): void {
    if (this.count === 0) return;
    // RLE run: header (count << 1, low bit 0), then the value in ceil(bitWidth / 8) bytes.
    this.sink.varint(this.count * 2);
    for (let byte = 0; byte < Math.ceil(this.bitWidth / 8); byte++)
      this.sink.byte((this.value >>> (8 * byte)) & 0xff);
    this.count = 0;
  }
}

/** Bits needed for levels up to `maxLevel` (0 when the column has no such levels). */
export function levelBitWidth(maxLevel: number): number {
  return maxLevel === 0 ? 0 : 32 - Math.clz32(maxLevel);
}
