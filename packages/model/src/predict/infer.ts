import * as tf from '@tensorflow/tfjs-core';
import type { TaskKey } from '../evaluation-types.ts';
import type { TrainingSet } from '../train/dataset.ts';
import { gatherRows } from '../train/dataset.ts';
import {
  forward,
  type ModelShape,
  mergeLora,
  type TargetScale,
  taskOutputs,
  type Weights,
} from '../train/model.ts';
import { TASK_SPECS } from '../train/tasks.ts';

/** A model ready for inference: LoRA folded into the bases, so each layer is one matmul. */
export interface InferenceModel {
  shape: ModelShape;
  merged: Weights;
  targetScale: TargetScale;
}

export function toInferenceModel(
  shape: ModelShape,
  weights: Weights,
  targetScale: TargetScale,
): InferenceModel {
  return { shape, merged: mergeLora(shape, weights), targetScale };
}

/** Per task, row-major over the rows asked for: C = 1 (regression, in label units) or class count. */
export interface TaskPredictions {
  classes: number;
  ensemble: Float32Array;
  experts: Record<string, Float32Array>;
  /** [rows x experts] gate weights in `shape.experts` order. */
  gateWeights: Float32Array;
}

export type Predictions = Partial<Record<TaskKey, TaskPredictions>>;

/** Inputs by row: each expert's embedding and the gate's input, already aligned. */
export interface InferenceInputs {
  rows: number;
  experts: Record<string, Float32Array>;
  gate: Float32Array;
}

export function inputsOfRows(set: TrainingSet, rows: readonly number[]): InferenceInputs {
  const experts: Record<string, Float32Array> = {};
  for (const [name, features] of Object.entries(set.expertFeatures))
    experts[name] = gatherRows(features, rows);
  return { rows: rows.length, experts, gate: gatherRows(set.gateInput, rows) };
}

/** Runs the merged model over the inputs in chunks (bounded memory for any number of rows). */
export function infer(model: InferenceModel, inputs: InferenceInputs, chunk = 512): Predictions {
  const { shape } = model;
  const E = shape.experts.length;
  const n = inputs.rows;
  const out: Predictions = {};
  for (const task of shape.tasks) {
    const classes = TASK_SPECS[task].outputs;
    out[task] = {
      classes,
      ensemble: new Float32Array(n * classes),
      experts: Object.fromEntries(shape.experts.map(({ name }) => [name, new Float32Array(n * classes)])),
      gateWeights: new Float32Array(n * E),
    };
  }
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const results = tf.tidy(() => {
      const experts: Record<string, tf.Tensor2D> = {};
      for (const { name, dim } of shape.experts) {
        const values = inputs.experts[name] as Float32Array;
        experts[name] = tf.tensor2d(values.subarray(start * dim, (start + rows) * dim), [rows, dim]);
      }
      const G = shape.gateDim;
      const gate = tf.tensor2d(inputs.gate.subarray(start * G, (start + rows) * G), [rows, G]);
      const outputs = forward(shape, model.merged, { experts, gate });
      return shape.tasks.map((_, t) => {
        const task = taskOutputs(shape, outputs, t);
        const gateWeights = tf.reshape(tf.slice(outputs.gateWeights, [t, 0, 0], [1, rows, E]), [rows, E]);
        if (task.value) return [task.value.ensemble, task.value.experts, gateWeights];
        const probabilities = task.probabilities as { ensemble: tf.Tensor2D; experts: tf.Tensor3D };
        return [probabilities.ensemble, probabilities.experts, gateWeights];
      });
    });
    shape.tasks.forEach((task, t) => {
      const [ensemble, experts, gateWeights] = (results[t] as tf.Tensor[]).map((tensor) => tensor.dataSync());
      const target = out[task] as TaskPredictions;
      const { mean, std } = model.targetScale[task] ?? { mean: 0, std: 1 };
      const unscale = (value: number) => (target.classes === 1 ? value * std + mean : value);
      (ensemble as Float32Array).forEach((value, i) => {
        target.ensemble[start * target.classes + i] = unscale(value);
      });
      const perExpert = rows * target.classes;
      shape.experts.forEach(({ name }, e) => {
        const values = (experts as Float32Array).subarray(e * perExpert, (e + 1) * perExpert);
        const into = target.experts[name] as Float32Array;
        values.forEach((value, i) => {
          into[start * target.classes + i] = unscale(value);
        });
      });
      target.gateWeights.set(gateWeights as Float32Array, start * E);
    });
    for (const tensors of results) for (const tensor of tensors) tensor.dispose();
  }
  return out;
}

export function disposeInferenceModel(model: InferenceModel): void {
  for (const tensor of Object.values(model.merged)) tensor.dispose();
}
