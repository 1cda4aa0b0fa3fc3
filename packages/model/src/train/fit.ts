import { availableParallelism } from 'node:os';
import { ConfigError } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { checkTopK, resolveThreads, type TrainConfig } from './config.ts';
import type { TrainingSet } from './dataset.ts';
import { gateLayout, initialWeights, type ModelShape, type TargetScale, type Weights } from './model.ts';
import { createRng, deriveSeed, shuffled } from './prng.ts';
import { type FullValues, type LossSums, partitionTasks, ShardLayout } from './shard.ts';
import { type FitContext, LocalShardGroup, project, type ShardRunner } from './shard-group.ts';
import { shareable, WorkerShardGroup } from './shard-workers.ts';
import { TASK_SPECS } from './tasks.ts';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss: number;
}

/** A trained model in memory: its shape, LoRA-form weights (best validation epoch) and target scale. */
export interface FittedModel {
  shape: ModelShape;
  weights: Weights;
  targetScale: TargetScale;
  curve: EpochRecord[];
  bestEpoch: number;
  steps: number;
}

export interface FitRows {
  train: readonly number[];
  /** Rows for early stopping and the validation curve; may be empty (then the last epoch is kept). */
  val: readonly number[];
}

/** The model's layout for a training set under a config; refuses a gate config the cache cannot feed. */
export function modelShapeFor(set: TrainingSet, config: TrainConfig): ModelShape {
  const gateWidth = config.gate.leads.length * config.gate.length;
  if (set.gateInput.dim !== gateWidth) {
    throw new ConfigError(
      `gate expects ${config.gate.leads.length} lead(s) x ${config.gate.length} samples = ${gateWidth} values, the cached gate input has ${set.gateInput.dim}`,
      'gate.length',
    );
  }
  const experts = Object.keys(set.expertFeatures)
    .sort()
    .map((name) => ({ name, dim: (set.expertFeatures[name] as { dim: number }).dim }));
  checkTopK(config, experts.length);
  return {
    tasks: [...config.tasks],
    experts,
    gateDim: gateWidth,
    hiddenSize: config.hiddenSize,
    lora: { ...config.lora },
    topK: config.gate.topK,
    trainLastHeadLayer: config.trainLastHeadLayer,
    ...(config.gate.width === undefined ? {} : { gateWidth: config.gate.width }),
    ...(config.gate.depth === undefined ? {} : { gateDepth: config.gate.depth }),
  };
}

/** Training-split mean and std of each regression target (identity when scaling is off). */
export function targetScaleFor(set: TrainingSet, config: TrainConfig, rows: readonly number[]): TargetScale {
  const scale: TargetScale = {};
  for (const task of config.tasks) {
    if (TASK_SPECS[task].kind !== 'regression') continue;
    if (!config.standardizeTargets) {
      scale[task] = { mean: 0, std: 1 };
      continue;
    }
    const values = set.labels[task];
    const present = rows
      .map((row) => (values ? (values[row] as number) : Number.NaN))
      .filter(Number.isFinite);
    const mean = present.reduce((a, b) => a + b, 0) / Math.max(1, present.length);
    const variance = present.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, present.length);
    scale[task] = { mean, std: Math.sqrt(variance) > 1e-12 ? Math.sqrt(variance) : 1 };
  }
  return scale;
}

/** How a fit runs (never what it computes). */
export interface FitOptions {
  /** Threads to train on; see `resolveThreads`. */
  threads?: number;
  /** Called after every epoch with its losses (for progress lines and heartbeats). */
  onEpoch?: (record: EpochRecord) => void;
}

/** Shards the tasks are split into: at most two, the cores of the machine this was tuned for. */
const SHARDS = 2;

/**
 * Trains a fresh model with a fresh optimiser on `rows.train`: nothing is shared between calls, so
 * cross-validation folds cannot leak into each other. Every batch is gathered from all arrays (each
 * expert's features, the gate input, the labels) by one seeded index permutation. The tasks train in
 * shards (see shard.ts), here or on worker threads, with identical results either way.
 */
export async function fitModel(
  set: TrainingSet,
  config: TrainConfig,
  rows: FitRows,
  options: FitOptions = {},
): Promise<FittedModel> {
  if (rows.train.length === 0) throw new ConfigError('the training split has no rows', 'split');
  const shape = modelShapeFor(set, config);
  const targetScale = targetScaleFor(set, config, rows.train);
  const shards = partitionTasks(shape.tasks, SHARDS);
  const threads = resolveThreads(options.threads, shards.length, rows.train.length, availableParallelism());
  const { values: initial, shapes } = initialValues(shape, config.seed);
  const parallel = threads > 1;
  const n = set.studyIds.length;
  const widths = [...shape.experts.map(() => shape.hiddenSize), gateLayout(shape).width];
  const context: FitContext = {
    set: {
      expertFeatures: parallel
        ? Object.fromEntries(Object.entries(set.expertFeatures).map(([name, m]) => [name, shareable(m)]))
        : set.expertFeatures,
      gateInput: parallel ? shareable(set.gateInput) : set.gateInput,
      labels: Object.fromEntries(shape.tasks.map((task) => [task, set.labels[task]])),
    },
    shape,
    config,
    targetScale,
    initial,
    projections: widths.map((dim) => ({
      dim,
      matrix: parallel ? new Float32Array(new SharedArrayBuffer(n * dim * 4)) : new Float32Array(n * dim),
    })),
  };
  let runner: ShardRunner;
  if (parallel) runner = await WorkerShardGroup.start(context, shards, threads);
  else {
    project(
      context,
      widths.map((_, p) => p),
    );
    runner = new LocalShardGroup(context, shards);
  }
  // Where each task's terms sit in its shard's answers.
  const place = shape.tasks.map((_, t) => {
    const shard = shards.findIndex((tasks) => tasks.includes(t));
    return { shard, at: (shards[shard] as number[]).indexOf(t), of: (shards[shard] as number[]).length };
  });
  const curve: EpochRecord[] = [];
  let best = { loss: Number.POSITIVE_INFINITY, epoch: 0 };
  let sinceBest = 0;
  let step = 0;
  try {
    const shuffleRng = createRng(deriveSeed(config.seed, 'shuffle'));
    for (let epoch = 1; epoch <= config.maxEpochs; epoch++) {
      const order = shuffled(rows.train, shuffleRng);
      const terms = await runner.epoch(order, step + 1);
      const steps = Math.ceil(order.length / config.batchSize);
      step += steps;
      let lossSum = 0;
      for (let k = 0; k < steps; k++) {
        let total = 0;
        for (const { shard, at, of } of place) total += (terms[shard] as Float64Array)[k * of + at] as number;
        lossSum += total;
      }
      const trainLoss = lossSum / steps;
      let valLoss = Number.NaN;
      if (rows.val.length > 0) {
        const sums = await runner.validate(rows.val);
        valLoss = 0;
        shape.tasks.forEach((task, t) => {
          const { shard, at } = place[t] as { shard: number; at: number };
          const count = (sums[shard] as LossSums).counts[at] as number;
          const sum = (sums[shard] as LossSums).sums[at] as number;
          if (count > 0) valLoss += ((config.lossWeights[task] ?? 1) * sum) / count;
        });
      }
      curve.push({ epoch, trainLoss, valLoss });
      options.onEpoch?.({ epoch, trainLoss, valLoss });
      if (rows.val.length === 0 || valLoss < best.loss) {
        best = { loss: valLoss, epoch };
        await runner.markBest();
        sinceBest = 0;
      } else {
        sinceBest += 1;
        if (config.patience > 0 && sinceBest >= config.patience) break;
      }
    }
    const bestValues = await runner.bestValues();
    shards.forEach((tasks, i) => {
      new ShardLayout(shape, tasks).write(initial, bestValues[i] as Float32Array);
    });
  } finally {
    await runner.dispose();
  }
  const weights: Weights = Object.fromEntries(
    Object.entries(initial).map(([name, values]) => [name, tf.tensor(values, shapes[name])]),
  );
  return { shape, weights, targetScale, curve, bestEpoch: best.epoch, steps: step };
}

/** The seeded initial weights as plain arrays (and their shapes). */
function initialValues(
  shape: ModelShape,
  seed: number,
): { values: FullValues; shapes: Record<string, number[]> } {
  const tensors = initialWeights(shape, seed);
  const values: FullValues = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    values[name] = Float32Array.from(tensor.dataSync() as Float32Array);
    shapes[name] = tensor.shape;
    tensor.dispose();
  }
  return { values, shapes };
}

export function disposeWeights(weights: Weights): void {
  for (const tensor of Object.values(weights)) tensor.dispose();
}

/** Rows of one cross-validation fold: training on the other folds, validating on this one (test rows excluded). */
export function foldRows(set: TrainingSet, fold: number): FitRows {
  const train: number[] = [];
  const val: number[] = [];
  set.split.forEach((split, row) => {
    if (split === 'test') return;
    (set.fold[row] === fold ? val : train).push(row);
  });
  return { train, val };
}
