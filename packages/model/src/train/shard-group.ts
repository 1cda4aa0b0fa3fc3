import * as tf from '@tensorflow/tfjs-core';
import type { BatchRing } from './batch-ring.ts';
import type { TrainConfig } from './config.ts';
import type { RowMatrix, TrainingSet } from './dataset.ts';
import type { ModelShape, TargetScale } from './model.ts';
import { deriveSeed } from './prng.ts';
import {
  type BatchInputs,
  batchInputs,
  batchTensors,
  disposeBatchInputs,
  type FullValues,
  gatherBatchValues,
  type LossSums,
  projectedPrefixes,
  ShardLayout,
} from './shard.ts';
import { ShardTrainer } from './shard-trainer.ts';

/** What every thread of a fit is given: the data (shared, not copied, between threads) and the model's start. */
export interface FitContext {
  set: Pick<TrainingSet, 'expertFeatures' | 'gateInput' | 'labels'>;
  shape: ModelShape;
  config: TrainConfig;
  targetScale: TargetScale;
  /** Full-layout initial values of every tensor. */
  initial: FullValues;
  /** Frozen first-layer outputs per prefix (`projectedPrefixes` order), n x width each; filled by `project`. */
  projections: RowMatrix[];
}

/** Rows per tfjs call: frozen first-layer outputs, validation losses. */
const PROJECT_ROWS = 1024;
const VALIDATE_ROWS = 512;

/** Computes the frozen first-layer outputs (x W + b) of the given prefixes for every row, in place. */
export function project(context: FitContext, prefixIndices: readonly number[]): void {
  const { set, shape, initial, projections } = context;
  const prefixes = projectedPrefixes(shape);
  const sources = [...shape.experts.map(({ name }) => set.expertFeatures[name] as RowMatrix), set.gateInput];
  for (const p of prefixIndices) {
    const features = sources[p] as RowMatrix;
    const out = projections[p] as RowMatrix;
    const prefix = prefixes[p] as string;
    const n = features.matrix.length / features.dim;
    const weight = tf.tensor2d(initial[`${prefix}.weight`] as Float32Array, [features.dim, out.dim]);
    const bias = tf.tensor1d(initial[`${prefix}.bias`] as Float32Array);
    for (let start = 0; start < n; start += PROJECT_ROWS) {
      const rows = Math.min(PROJECT_ROWS, n - start);
      const values = tf.tidy(() =>
        tf.add(
          tf.matMul(
            tf.tensor2d(features.matrix.subarray(start * features.dim, (start + rows) * features.dim), [
              rows,
              features.dim,
            ]),
            weight,
          ),
          bias,
        ),
      );
      out.matrix.set(values.dataSync(), start * out.dim);
      values.dispose();
    }
    weight.dispose();
    bias.dispose();
  }
}

/** Assigns the projected prefixes to `threads` threads, balancing their input widths. */
export function projectionAssignment(
  context: Pick<FitContext, 'set' | 'shape'>,
  threads: number,
): number[][] {
  const { set, shape } = context;
  const widths = [...shape.experts.map(({ dim }) => dim), set.gateInput.dim];
  const load = new Array<number>(threads).fill(0);
  const assigned = Array.from({ length: threads }, () => [] as number[]);
  for (const p of widths
    .map((_, p) => p)
    .sort((a, b) => (widths[b] as number) - (widths[a] as number) || a - b)) {
    const thread = load.indexOf(Math.min(...load));
    load[thread] = (load[thread] as number) + (widths[p] as number);
    (assigned[thread] as number[]).push(p);
  }
  return assigned;
}

/** Per shard of a group: each step's weighted loss term per shard task (step-major). */
export type EpochTerms = Float64Array[];

/** Shards trained together, here or in a worker thread; results come back in shard order. */
export interface ShardRunner {
  epoch(order: readonly number[], firstStep: number): Promise<EpochTerms>;
  validate(rows: readonly number[]): Promise<LossSums[]>;
  markBest(): Promise<void>;
  bestValues(): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/** How a thread gets its batches when two threads share the gathering (see `BatchRing`). */
export interface BatchFeed {
  ring: BatchRing;
  role: 'produce' | 'consume';
}

/**
 * Shards trained in one thread. Each step's batch (its dropout masks included) is gathered once and
 * read by every shard of the thread, or, with a `feed`, gathered once for two threads.
 */
export class LocalShardGroup implements ShardRunner {
  private readonly trainers: ShardTrainer[];

  constructor(
    private readonly context: FitContext,
    shards: readonly (readonly number[])[],
    private readonly feed?: BatchFeed,
  ) {
    this.trainers = shards.map(
      (tasks) =>
        new ShardTrainer(
          new ShardLayout(context.shape, tasks),
          context.initial,
          context.config,
          context.targetScale,
          context.set.labels,
        ),
    );
  }

  /** Trains one epoch over `order` in batches; `firstStep` numbers the first batch (it seeds the dropout). */
  async epoch(order: readonly number[], firstStep: number): Promise<EpochTerms> {
    const { config } = this.context;
    const steps = Math.ceil(order.length / config.batchSize);
    const terms = this.trainers.map((trainer) => new Float64Array(steps * trainer.layout.tasks.length));
    for (let k = 0; k < steps; k++) {
      const rows = order.slice(k * config.batchSize, (k + 1) * config.batchSize);
      const dropoutSeed = deriveSeed(config.seed, 'dropout', firstStep + k);
      const inputs = this.batch(firstStep + k - 1, rows, dropoutSeed);
      this.trainers.forEach((trainer, i) => {
        (terms[i] as Float64Array).set(trainer.step(inputs, dropoutSeed), k * trainer.layout.tasks.length);
      });
      disposeBatchInputs(inputs);
    }
    return terms;
  }

  /** Step `step`'s training batch (steps counted from 0 over the fit), gathered or read from the feed. */
  private batch(step: number, rows: readonly number[], dropoutSeed: number): BatchInputs {
    const { set, shape, projections } = this.context;
    if (this.feed?.role === 'consume') {
      const values = this.feed.ring.take(step);
      if (values.rows.length !== rows.length || values.rows.some((row, b) => row !== rows[b])) {
        throw new Error(`batch ${step} from the other worker has other rows than this worker's permutation`);
      }
      const inputs = batchTensors(shape, values);
      this.feed.ring.release(step);
      return inputs;
    }
    const values = gatherBatchValues(set, shape, projections, rows, dropoutSeed);
    this.feed?.ring.put(step, values);
    return batchTensors(shape, values);
  }

  /** Per shard: loss sums and labelled-row counts per task over `rows`, without dropout. */
  async validate(rows: readonly number[]): Promise<LossSums[]> {
    const { set, shape, projections } = this.context;
    const totals = this.trainers.map((trainer) => ({
      sums: new Float64Array(trainer.layout.tasks.length),
      counts: new Float64Array(trainer.layout.tasks.length),
    }));
    for (let start = 0; start < rows.length; start += VALIDATE_ROWS) {
      const inputs = batchInputs(set, shape, projections, rows.slice(start, start + VALIDATE_ROWS));
      this.trainers.forEach((trainer, i) => {
        const { sums, counts } = trainer.lossSums(inputs);
        const total = totals[i] as LossSums;
        sums.forEach((sum, j) => {
          total.sums[j] = (total.sums[j] as number) + sum;
          total.counts[j] = (total.counts[j] as number) + (counts[j] as number);
        });
      });
      disposeBatchInputs(inputs);
    }
    return totals;
  }

  async markBest(): Promise<void> {
    for (const trainer of this.trainers) trainer.markBest();
  }

  /** Per shard: its trainable values at the best epoch. */
  async bestValues(): Promise<Float32Array[]> {
    return this.trainers.map((trainer) => Float32Array.from(trainer.bestValues));
  }

  async dispose(): Promise<void> {
    for (const trainer of this.trainers) trainer.dispose();
  }
}
