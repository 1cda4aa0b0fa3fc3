import { ensureKernelMemory, instantiateKernel, type KernelMemory } from '../wasm-kernel.ts';

/** De-interleaving of format 16 frames (format16.wat describes the layout of its memory). */
const kernel = instantiateKernel<{
  memory: KernelMemory;
  deinterleave(frames: number, frameSize: number, length: number, out: number, totals: number): void;
}>(new URL('./format16.wasm', import.meta.url));

/**
 * Copies `length` frames of `frameSize` little-endian int16 samples (`frameBytes`) into `signals`,
 * signal after signal (`length` samples each), and returns per signal its sum (wrapping in 32 bits)
 * and its count of invalid samples (-32768) as [sum0, invalid0, sum1, ...], a view valid until the
 * next call. The frames are copied into the kernel's memory and the signals out of it: copies at
 * memory speed against the per-sample work they replace.
 */
export function deinterleaveFormat16(
  frameBytes: Uint8Array,
  frameSize: number,
  length: number,
  signals: Int16Array,
): Int32Array {
  const samples = frameSize * length;
  const totalsAt = 0;
  const framesAt = 8 * frameSize;
  const outAt = framesAt + 2 * samples;
  const memory = kernel.memory;
  ensureKernelMemory(memory, outAt + 2 * samples);
  new Uint8Array(memory.buffer, framesAt, 2 * samples).set(frameBytes.subarray(0, 2 * samples));
  kernel.deinterleave(framesAt, frameSize, length, outAt, totalsAt);
  signals.set(new Int16Array(memory.buffer, outAt, samples));
  return new Int32Array(memory.buffer, totalsAt, 2 * frameSize);
}
