import type { ByteSink } from './byte-sink.ts';

/** Parquet `Encoding` values this writer uses. */
export const Encoding = { plain: 0, rle: 3, deltaBinaryPacked: 5 } as const;

const BLOCK_VALUES = 128;
const MINIBLOCKS = 4;
const MINIBLOCK_VALUES = BLOCK_VALUES / MINIBLOCKS;
/** Worst case of one block: min delta (5-byte varint), bit widths, four 32-bit-wide miniblocks. */
const MAX_BLOCK_BYTES = 5 + MINIBLOCKS + MINIBLOCKS * MINIBLOCK_VALUES * 4;

const blockMaxima = new Int32Array(MINIBLOCKS);
/** Slack a `deltas` buffer needs past its last difference: the encoder pads the last block there. */
export const DELTA_PADDING = BLOCK_VALUES;

/**
 * DELTA_BINARY_PACKED (Parquet Encodings.md) of a stream of `valueCount` 32-bit integers given as its
 * first value and its successive differences (`deltas[i]` = value i + 1 - value i, wrapping in 32-bit
 * arithmetic as the format prescribes for INT32). Callers compute the differences straight from
 * their own arrays, which spares a copy of the values. Layout: header (block size 128, 4 miniblocks,
 * value count, first value), then per block of 128 deltas its minimum and four miniblocks of 32
 * bit-packed (delta - minimum) values, each at the width its largest value needs. `deltas` needs
 * `DELTA_PADDING` entries of slack beyond the differences: a short last block is padded there.
 */
export function writeDeltaBinaryPacked(
  sink: ByteSink,
  valueCount: number,
  firstValue: number,
  deltas: Int32Array,
): void {
  sink.varint(BLOCK_VALUES);
  sink.varint(MINIBLOCKS);
  sink.varint(valueCount);
  sink.varint(valueCount === 0 ? 0 : zigzag32(firstValue));
  const deltaCount = valueCount - 1;
  if (deltaCount <= 0) return;
  sink.reserve(Math.ceil(deltaCount / BLOCK_VALUES) * MAX_BLOCK_BYTES);
  const out = sink.bytes;
  let position = sink.length;
  for (let start = 0; start < deltaCount; start += BLOCK_VALUES) {
    const end = Math.min(start + BLOCK_VALUES, deltaCount);
    let minDelta = 0x7fffffff;
    for (let m = 0; m < MINIBLOCKS; m++) {
      const from = start + m * MINIBLOCK_VALUES;
      const to = Math.min(from + MINIBLOCK_VALUES, end);
      let max = -0x80000000;
      for (let i = from; i < to; i++) {
        const delta = deltas[i]!;
        if (delta < minDelta) minDelta = delta;
        if (delta > max) max = delta;
      }
      blockMaxima[m] = max;
    }
    // A short last miniblock is padded to 32 values that pack as zeros.
    for (let i = end; i < start + BLOCK_VALUES; i++) deltas[i] = minDelta;
    let rest = zigzag32(minDelta);
    while (rest >= 0x80) {
      out[position++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    out[position++] = rest;
    const widthsAt = position;
    position += MINIBLOCKS;
    for (let m = 0; m < MINIBLOCKS; m++) {
      const from = start + m * MINIBLOCK_VALUES;
      if (from >= end) {
        // Miniblocks past the last value keep a width byte (zero) and no body.
        out[widthsAt + m] = 0;
        continue;
      }
      const span = (blockMaxima[m]! - minDelta) | 0;
      const width = span === 0 ? 0 : 32 - Math.clz32(span);
      out[widthsAt + m] = width;
      if (width > 0) position = packMiniblock(out, position, deltas, from, minDelta, width);
    }
  }
  sink.length = position;
}

/** Bit-packs the 32 values (delta - minDelta) of a miniblock at `width` bits, least significant bit first. */
function packMiniblock(
  out: Uint8Array,
  at: number,
  deltas: Int32Array,
  from: number,
  minDelta: number,
  width: number,
): number {
  let position = at;
  let word = 0;
  let bits = 0;
  for (let i = from; i < from + MINIBLOCK_VALUES; i++) {
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
