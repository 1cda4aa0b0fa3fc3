import { ConfigError } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from './adamw.ts';
import type { TrainConfig } from './config.ts';
import { type Batch, gatherBatch, gatherRows, type RowMatrix, type TrainingSet } from './dataset.ts';
import {
  type ForwardOutputs,
  forward,
  initialWeights,
  type ModelShape,
  type PreparedInput,
  type TargetScale,
  taskOutputs,
  trainableNames,
  type Weights,
} from './model.ts';
import { createRng, deriveSeed, shuffled } from './prng.ts';
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
  if (config.gate.topK > experts.length) {
    throw new ConfigError(`top-k ${config.gate.topK} exceeds the ${experts.length} experts`, 'gate.topK');
  }
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

interface Targets {
  /** Per task: [B] target (scaled regression value or class index) and [B] 0/1 mask. */
  values: tf.Tensor1D[];
  masks: tf.Tensor1D[];
  counts: number[];
}

function targetsOf(shape: ModelShape, scale: TargetScale, batch: Batch): Targets {
  const values: tf.Tensor1D[] = [];
  const masks: tf.Tensor1D[] = [];
  const counts: number[] = [];
  for (const task of shape.tasks) {
    const labels = batch.labels[task] as Float64Array;
    const mask = new Float32Array(labels.length);
    const isRegression = TASK_SPECS[task].kind === 'regression';
    const { mean, std } = scale[task] ?? { mean: 0, std: 1 };
    const target = isRegression ? new Float32Array(labels.length) : new Int32Array(labels.length);
    labels.forEach((label, i) => {
      if (!Number.isFinite(label)) return;
      mask[i] = 1;
      target[i] = isRegression ? (label - mean) / std : label;
    });
    values.push(tf.tensor1d(target, isRegression ? 'float32' : 'int32'));
    masks.push(tf.tensor1d(mask));
    counts.push(mask.reduce((a, b) => a + b, 0));
  }
  return { values, masks, counts };
}

/** Per task: summed loss over labelled rows (squared error, or negative log of the mixed probability). */
function taskLossSums(shape: ModelShape, outputs: ForwardOutputs, targets: Targets): tf.Scalar[] {
  return shape.tasks.map((task, t) => {
    const spec = TASK_SPECS[task];
    const predicted = taskOutputs(shape, outputs, t);
    const mask = targets.masks[t] as tf.Tensor1D;
    const target = targets.values[t] as tf.Tensor1D;
    if (predicted.value) {
      return tf.sum(tf.mul(tf.squaredDifference(predicted.value.ensemble, target), mask));
    }
    const probabilities = (predicted.probabilities as { ensemble: tf.Tensor2D }).ensemble;
    const picked = tf.sum(tf.mul(probabilities, tf.oneHot(target, spec.outputs)), 1);
    return tf.sum(tf.mul(tf.neg(tf.log(tf.add(picked, 1e-7))), mask));
  });
}

function weightedLoss(config: TrainConfig, sums: readonly tf.Scalar[], counts: readonly number[]): tf.Scalar {
  let total: tf.Scalar = tf.scalar(0);
  config.tasks.forEach((task, t) => {
    const weight = config.lossWeights[task] ?? 1;
    const count = counts[t] as number;
    if (weight === 0 || count === 0) return;
    total = tf.add(total, tf.mul(sums[t] as tf.Scalar, weight / count));
  });
  return total;
}

/** The frozen first layers' outputs (x W + b) for every row, computed once per run in large batches. */
function projectFrozenBases(
  set: TrainingSet,
  shape: ModelShape,
  weights: Weights,
): Record<string, RowMatrix> {
  const sources: Array<[string, RowMatrix]> = [
    ...shape.experts.map(({ name }): [string, RowMatrix] => [
      `head.${name}.fc1`,
      set.expertFeatures[name] as RowMatrix,
    ]),
    ['gate.fc1', set.gateInput],
  ];
  const n = set.studyIds.length;
  const out: Record<string, RowMatrix> = {};
  for (const [prefix, features] of sources) {
    // Each layer's own width: the gate's may differ from the heads' (gate.width).
    const H = (weights[`${prefix}.weight`] as tf.Tensor).shape[1] as number;
    const matrix = new Float32Array(n * H);
    for (let start = 0; start < n; start += 1024) {
      const rows = Math.min(1024, n - start);
      const values = tf.tidy(() => {
        const x = tf.tensor2d(features.matrix.subarray(start * features.dim, (start + rows) * features.dim), [
          rows,
          features.dim,
        ]);
        return tf.add(
          tf.matMul(x, weights[`${prefix}.weight`] as tf.Tensor2D),
          weights[`${prefix}.bias`] as tf.Tensor,
        );
      });
      matrix.set(values.dataSync(), start * H);
      values.dispose();
    }
    out[prefix] = { dim: H, matrix };
  }
  return out;
}

/**
 * A batch's LoRA inputs after dropout (mask drawn from the step's seed, kept values scaled by
 * 1/(1-p) as inverted dropout does), row-major and transposed, plus the frozen bases' rows.
 */
function prepareBatch(
  set: TrainingSet,
  shape: ModelShape,
  projections: Record<string, RowMatrix>,
  batch: Batch,
  dropoutSeed: number,
): Record<string, PreparedInput> {
  const prepared: Record<string, PreparedInput> = {};
  const B = batch.indices.length;
  const rate = shape.lora.dropout;
  for (const prefix of Object.keys(projections)) {
    const expert = prefix.startsWith('head.') ? prefix.slice('head.'.length, -'.fc1'.length) : undefined;
    const features = expert === undefined ? set.gateInput : (set.expertFeatures[expert] as RowMatrix);
    const rows = expert === undefined ? batch.gate : (batch.experts[expert] as Float32Array);
    const d = features.dim;
    const input = new Float32Array(B * d);
    const transposed = new Float32Array(d * B);
    const rng = createRng(deriveSeed(dropoutSeed, prefix));
    const keep = 1 / (1 - rate);
    for (let b = 0; b < B; b++) {
      const rowStart = b * d;
      for (let j = 0; j < d; j++) {
        const x = rows[rowStart + j] as number;
        const value = rate === 0 ? x : rng() < rate ? 0 : x * keep;
        input[rowStart + j] = value;
        transposed[j * B + b] = value;
      }
    }
    prepared[prefix] = {
      base: tf.tensor2d(gatherRows(projections[prefix] as RowMatrix, batch.indices), [
        B,
        (projections[prefix] as RowMatrix).dim,
      ]),
      loraInput: tf.tensor2d(input, [B, d]),
      loraInputT: tf.tensor2d(transposed, [d, B]),
    };
  }
  return prepared;
}

function batchInputs(batch: Batch, shape: ModelShape) {
  const experts: Record<string, tf.Tensor2D> = {};
  const n = batch.indices.length;
  for (const { name, dim } of shape.experts)
    experts[name] = tf.tensor2d(batch.experts[name] as Float32Array, [n, dim]);
  return { experts, gate: tf.tensor2d(batch.gate, [n, shape.gateDim]) };
}

/** Mean weighted loss over rows, without dropout, in chunks (for validation curves). */
export function meanLoss(
  set: TrainingSet,
  config: TrainConfig,
  shape: ModelShape,
  weights: Weights,
  scale: TargetScale,
  rows: readonly number[],
): number {
  if (rows.length === 0) return Number.NaN;
  const sums = new Float64Array(shape.tasks.length);
  const counts = new Float64Array(shape.tasks.length);
  const chunk = 512;
  for (let start = 0; start < rows.length; start += chunk) {
    const batch = gatherBatch(set, rows.slice(start, start + chunk), shape.tasks);
    const values = tf.tidy(() => {
      const targets = targetsOf(shape, scale, batch);
      targets.counts.forEach((count, t) => {
        counts[t] = (counts[t] as number) + count;
      });
      const outputs = forward(shape, weights, batchInputs(batch, shape));
      return tf.stack(taskLossSums(shape, outputs, targets));
    });
    values.dataSync().forEach((value, t) => {
      sums[t] = (sums[t] as number) + value;
    });
    values.dispose();
  }
  let total = 0;
  shape.tasks.forEach((task, t) => {
    const count = counts[t] as number;
    if (count > 0) total += ((config.lossWeights[task] ?? 1) * (sums[t] as number)) / count;
  });
  return total;
}

/**
 * Trains a fresh model with a fresh optimiser on `rows.train`: nothing is shared between calls, so
 * cross-validation folds cannot leak into each other. Every batch is gathered from all arrays (each
 * expert's features, the gate input, the labels) by one seeded index permutation.
 */
export async function fitModel(set: TrainingSet, config: TrainConfig, rows: FitRows): Promise<FittedModel> {
  if (rows.train.length === 0) throw new ConfigError('the training split has no rows', 'split');
  const shape = modelShapeFor(set, config);
  const scale = targetScaleFor(set, config, rows.train);
  const variables = new Map<string, tf.Variable>();
  const initial = initialWeights(shape, config.seed);
  const trainable = new Set(trainableNames(shape));
  for (const [name, tensor] of Object.entries(initial)) {
    variables.set(name, tf.variable(tensor, trainable.has(name)));
    tensor.dispose();
  }
  const weights: Weights = Object.fromEntries(variables);
  const projections = projectFrozenBases(set, shape, weights);
  const fc2 = weights['head.fc2.weight'] as tf.Tensor;
  const stepWeights: Weights = { ...weights, 'head.fc2.weight_t': tf.transpose(fc2) };
  const trainableVariables = [...trainable].map((name) => variables.get(name) as tf.Variable);
  const nameByTfName = new Map(
    [...trainable].map((name) => [(variables.get(name) as tf.Variable).name, name]),
  );
  const optimiser = new AdamW({ learningRate: config.learningRate, weightDecay: config.weightDecay });
  const shuffleRng = createRng(deriveSeed(config.seed, 'shuffle'));
  const curve: EpochRecord[] = [];
  let best = { loss: Number.POSITIVE_INFINITY, epoch: 0, snapshot: new Map<string, Float32Array>() };
  let sinceBest = 0;
  let step = 0;
  try {
    for (let epoch = 1; epoch <= config.maxEpochs; epoch++) {
      const order = shuffled(rows.train, shuffleRng);
      let lossSum = 0;
      let batches = 0;
      for (let start = 0; start < order.length; start += config.batchSize) {
        const batch = gatherBatch(set, order.slice(start, start + config.batchSize), shape.tasks);
        step += 1;
        const dropoutSeed = deriveSeed(config.seed, 'dropout', step);
        const { value, grads } = tf.variableGrads(
          () =>
            tf.tidy(() => {
              const targets = targetsOf(shape, scale, batch);
              const prepared = prepareBatch(set, shape, projections, batch, dropoutSeed);
              // With prepared layers, forward reads its inputs only for their row count: nothing else to upload.
              const loraInput = (prefix: string) => (prepared[prefix] as PreparedInput).loraInput;
              const inputs = {
                experts: Object.fromEntries(
                  shape.experts.map(({ name }) => [name, loraInput(`head.${name}.fc1`)]),
                ),
                gate: loraInput('gate.fc1'),
                prepared,
              };
              const outputs = forward(shape, stepWeights, inputs, { dropoutSeed });
              return weightedLoss(config, taskLossSums(shape, outputs, targets), targets.counts);
            }),
          trainableVariables,
        );
        const byName: Record<string, tf.Tensor> = {};
        for (const [tfName, grad] of Object.entries(grads)) byName[nameByTfName.get(tfName) as string] = grad;
        optimiser.apply(variables, byName);
        lossSum += (await value.data())[0] as number;
        batches += 1;
        value.dispose();
        for (const grad of Object.values(grads)) grad.dispose();
      }
      const trainLoss = lossSum / batches;
      const valLoss = meanLoss(set, config, shape, weights, scale, rows.val);
      curve.push({ epoch, trainLoss, valLoss });
      if (rows.val.length === 0 || valLoss < best.loss) {
        best = { loss: valLoss, epoch, snapshot: snapshot(variables, trainable) };
        sinceBest = 0;
      } else {
        sinceBest += 1;
        if (config.patience > 0 && sinceBest >= config.patience) break;
      }
    }
    for (const [name, values] of best.snapshot) {
      const variable = variables.get(name) as tf.Variable;
      variable.assign(tf.tensor(values, variable.shape));
    }
  } finally {
    optimiser.dispose();
    (stepWeights['head.fc2.weight_t'] as tf.Tensor).dispose();
  }
  return { shape, weights, targetScale: scale, curve, bestEpoch: best.epoch, steps: step };
}

function snapshot(
  variables: ReadonlyMap<string, tf.Variable>,
  names: ReadonlySet<string>,
): Map<string, Float32Array> {
  const copy = new Map<string, Float32Array>();
  for (const name of names)
    copy.set(name, Float32Array.from((variables.get(name) as tf.Variable).dataSync()));
  return copy;
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
