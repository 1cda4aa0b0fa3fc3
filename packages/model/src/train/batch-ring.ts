import type { ModelShape } from './model.ts';
import { gateLayout } from './model.ts';
import type { BatchValues } from './shard.ts';

const PRODUCED = 0;
const CONSUMED = 1;
const ABORTED = 2;
/** Batches the producer may run ahead of the consumer. */
const SLOTS = 4;
/** How long one wait lasts before the abort flag is checked again (ms). */
const WAIT_MS = 500;

/** Shared memory of a `BatchRing`, created once and handed to both threads. */
export interface BatchRingMemory {
  control: Int32Array;
  rows: Int32Array;
  values: Float32Array;
}

/**
 * A single-producer, single-consumer ring of gathered batches in shared memory. With two worker
 * threads, the one with fewer tasks gathers every batch (rows, first-layer dropout, transposes,
 * frozen outputs) and the other reads it instead of gathering it again: that work leaves the slower
 * thread and is done once. Steps are numbered from 0 over the whole fit; both threads walk them in
 * order. A thread that waits re-checks the abort flag every half second, so a failure elsewhere
 * never leaves it blocked.
 */
export class BatchRing {
  private readonly widths: number[];
  private readonly slotSize: number;

  constructor(
    private readonly memory: BatchRingMemory,
    private readonly shape: ModelShape,
    private readonly batchSize: number,
  ) {
    this.widths = [...shape.experts.map(({ dim }) => dim), shape.gateDim];
    this.slotSize = BatchRing.slotSize(shape, batchSize);
  }

  private static slotSize(shape: ModelShape, batchSize: number): number {
    const inputs = [...shape.experts.map(({ dim }) => dim), shape.gateDim].reduce((a, b) => a + b, 0);
    const projected = (shape.experts.length * shape.hiddenSize + gateLayout(shape).width) * batchSize;
    return 2 * inputs * batchSize + projected;
  }

  static allocate(shape: ModelShape, batchSize: number): BatchRingMemory {
    return {
      control: new Int32Array(new SharedArrayBuffer(3 * 4)),
      rows: new Int32Array(new SharedArrayBuffer(SLOTS * (batchSize + 1) * 4)),
      values: new Float32Array(new SharedArrayBuffer(SLOTS * BatchRing.slotSize(shape, batchSize) * 4)),
    };
  }

  /** Stops both sides: their next wait throws. */
  static abort(memory: BatchRingMemory): void {
    Atomics.store(memory.control, ABORTED, 1);
    Atomics.notify(memory.control, PRODUCED);
    Atomics.notify(memory.control, CONSUMED);
  }

  /** Waits until `ready()` holds, sleeping on the control cell `index` while it does not. */
  private waitFor(index: number, ready: () => boolean): void {
    const { control } = this.memory;
    for (;;) {
      if (Atomics.load(control, ABORTED) === 1) throw new Error('training stopped: the other worker failed');
      const seen = Atomics.load(control, index);
      if (ready()) return;
      Atomics.wait(control, index, seen, WAIT_MS);
    }
  }

  /** Producer: stores step `step`'s batch once the consumer has a free slot. */
  put(step: number, batch: BatchValues): void {
    const { control, rows, values } = this.memory;
    this.waitFor(CONSUMED, () => step - Atomics.load(control, CONSUMED) < SLOTS);
    const slot = step % SLOTS;
    const B = batch.rows.length;
    rows[slot * (this.batchSize + 1)] = B;
    rows.set(batch.rows, slot * (this.batchSize + 1) + 1);
    let at = slot * this.slotSize;
    for (const array of [
      ...batch.inputs,
      ...(batch.transposes ?? []),
      batch.projected,
      batch.gateProjected,
    ]) {
      values.set(array, at);
      at += array.length;
    }
    Atomics.store(control, PRODUCED, step + 1);
    Atomics.notify(control, PRODUCED);
  }

  /** Consumer: step `step`'s batch, as views into its slot (valid until `release(step)`). */
  take(step: number): BatchValues {
    const { control, rows, values } = this.memory;
    this.waitFor(PRODUCED, () => Atomics.load(control, PRODUCED) > step);
    const slot = step % SLOTS;
    const B = rows[slot * (this.batchSize + 1)] as number;
    const start = slot * (this.batchSize + 1) + 1;
    let at = slot * this.slotSize;
    const next = (length: number) => {
      const view = values.subarray(at, at + length);
      at += length;
      return view;
    };
    const inputs = this.widths.map((d) => next(B * d));
    const transposes = this.widths.map((d) => next(d * B));
    return {
      rows: Array.from(rows.subarray(start, start + B)),
      inputs,
      transposes,
      projected: next(this.shape.experts.length * B * this.shape.hiddenSize),
      gateProjected: next(B * gateLayout(this.shape).width),
    };
  }

  /** Consumer: frees step `step`'s slot. */
  release(step: number): void {
    Atomics.store(this.memory.control, CONSUMED, step + 1);
    Atomics.notify(this.memory.control, CONSUMED);
  }
}
