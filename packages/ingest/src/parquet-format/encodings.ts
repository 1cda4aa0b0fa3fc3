import { ensureKernelMemory, instantiateKernel, type KernelMemory } from '../wasm-kernel.ts';
import type { ByteSink } from './byte-sink.ts';

/** Parquet `Encoding` values this writer uses. */
export const Encoding = { plain: 0, rle: 3, deltaBinaryPacked: 5 } as const;

const BLOCK_VALUES = 128;
const MINIBLOCKS = 4;
/** Worst case of one block: min delta (5-byte varint), bit widths, four 32-bit-wide miniblocks. */
const MAX_BLOCK_BYTES = 5 + MINIBLOCKS + BLOCK_VALUES * 4;
/** Where the kernel's values start in its memory (below: its delta scratch and miniblock maxima). */
const KERNEL_VALUES_AT = 1024;
/** The kernel reads up to this many bytes past the last value (lanes of a short last block). */
const KERNEL_OVERREAD_BYTES = (BLOCK_VALUES + 4) * 4;

/** The blocks of DELTA_BINARY_PACKED (delta-binary-packed.wat describes the layout of its memory). */
const kernel = instantiateKernel<{
  memory: KernelMemory;
  encodeBlocks(values: number, count: number, out: number): number;
}>(new URL('./delta-binary-packed.wasm', import.meta.url));

/**
 * DELTA_BINARY_PACKED (Parquet Encodings.md) of `values[0, count)` as 32-bit integers: header (block
 * size 128, 4 miniblocks, value count, first value), then per block of 128 deltas its minimum and
 * four miniblocks of 32 bit-packed (delta - minimum) values, each at the width its largest value
 * needs. Deltas wrap in 32-bit arithmetic, as the format prescribes for INT32 columns. The header is
 * written here; the values are copied into the kernel's memory, which writes the blocks, and those
 * bytes are copied to `sink` (two copies at memory speed against the per-value work they save).
 */
export function writeDeltaBinaryPacked(sink: ByteSink, values: Int32Array, count: number): void {
  sink.varint(BLOCK_VALUES);
  sink.varint(MINIBLOCKS);
  sink.varint(count);
  sink.varint(count === 0 ? 0 : zigzag32(values[0]!));
  if (count <= 1) return;
  const outAt = KERNEL_VALUES_AT + count * 4 + KERNEL_OVERREAD_BYTES;
  const maxOutBytes = Math.ceil((count - 1) / BLOCK_VALUES) * MAX_BLOCK_BYTES;
  const memory = kernel.memory;
  ensureKernelMemory(memory, outAt + maxOutBytes);
  new Int32Array(memory.buffer, KERNEL_VALUES_AT, count).set(values.subarray(0, count));
  const outEnd = kernel.encodeBlocks(KERNEL_VALUES_AT, count, outAt);
  sink.append(new Uint8Array(memory.buffer, outAt, outEnd - outAt));
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
