import * as tf from '@tensorflow/tfjs-core';
import type { TrainConfig } from '../../src/train/config.ts';
import { type Batch, gatherBatch, type TrainingSet } from '../../src/train/dataset.ts';
import {
  type ForwardOutputs,
  forward,
  type ModelShape,
  type TargetScale,
  taskOutputs,
  type Weights,
} from '../../src/train/model.ts';
import { TASK_SPECS } from '../../src/train/tasks.ts';

/*
 * The training loss computed independently of the trainer: through the inference `forward` and tfjs
 * ops (differentiable by tfjs autodiff), as an oracle for the hand-written backward pass and the
 * validation curve.
 */

export interface Targets {
  /** Per task: [B] target (scaled regression value or class index) and [B] 0/1 mask. */
  values: tf.Tensor1D[];
  masks: tf.Tensor1D[];
  counts: number[];
}

export function targetsOf(shape: ModelShape, scale: TargetScale, batch: Batch): Targets {
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
export function taskLossSums(shape: ModelShape, outputs: ForwardOutputs, targets: Targets): tf.Scalar[] {
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

export function batchInputs(batch: Batch, shape: ModelShape) {
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
