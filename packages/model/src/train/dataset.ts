import { InputError } from '@enecg/common';
import type { TaskKey } from '../evaluation-types.ts';

export type Split = 'train' | 'val' | 'test';

/** A row-major matrix: row i belongs to the study at index i of its training set. */
export interface RowMatrix {
  dim: number;
  matrix: Float32Array;
}

/**
 * Everything training needs, in memory and aligned by row: row i of every expert matrix, of the gate
 * input and of every label array describes study `studyIds[i]`.
 */
export interface TrainingSet {
  studyIds: number[];
  subjectIds: number[];
  split: Split[];
  fold: number[];
  /** Per task: regression value or class index; NaN where the label is missing. */
  labels: Partial<Record<TaskKey, Float64Array>>;
  expertFeatures: Record<string, RowMatrix>;
  gateInput: RowMatrix;
}

/** A batch: rows gathered from every array by the same index list. */
export interface Batch {
  indices: number[];
  experts: Record<string, Float32Array>;
  gate: Float32Array;
  labels: Partial<Record<TaskKey, Float64Array>>;
}

/** Refuses a set whose arrays disagree in length, so no expert can silently see other rows. */
export function validateTrainingSet(set: TrainingSet, source = 'training set'): void {
  const n = set.studyIds.length;
  const check = (length: number, field: string) => {
    if (length !== n) {
      throw new InputError(`has ${length} rows, expected ${n} (one per study)`, { file: source, field });
    }
  };
  check(set.subjectIds.length, 'subject_id');
  check(set.split.length, 'split');
  check(set.fold.length, 'fold');
  for (const [task, values] of Object.entries(set.labels)) check(values.length, task);
  const matrices = { ...set.expertFeatures, gate: set.gateInput };
  for (const [name, features] of Object.entries(matrices)) {
    if (!(features.dim > 0) || features.matrix.length !== n * features.dim) {
      throw new InputError(`matrix of ${features.matrix.length} values is not ${n} x ${features.dim}`, {
        file: source,
        field: name,
      });
    }
  }
  if (Object.keys(set.expertFeatures).length === 0) {
    throw new InputError('no expert features', { file: source, field: 'expertFeatures' });
  }
}

export function rowsOfSplit(set: TrainingSet, split: Split): number[] {
  const rows: number[] = [];
  for (let i = 0; i < set.split.length; i++) if (set.split[i] === split) rows.push(i);
  return rows;
}

export function gatherRows(features: RowMatrix, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * features.dim);
  indices.forEach((row, i) => {
    out.set(features.matrix.subarray(row * features.dim, (row + 1) * features.dim), i * features.dim);
  });
  return out;
}

export function gatherBatch(set: TrainingSet, indices: readonly number[], tasks: readonly TaskKey[]): Batch {
  const experts: Record<string, Float32Array> = {};
  for (const [name, features] of Object.entries(set.expertFeatures))
    experts[name] = gatherRows(features, indices);
  const labels: Partial<Record<TaskKey, Float64Array>> = {};
  for (const task of tasks) {
    const values = set.labels[task];
    labels[task] = Float64Array.from(indices, (row) => (values ? (values[row] as number) : Number.NaN));
  }
  return { indices: [...indices], experts, gate: gatherRows(set.gateInput, indices), labels };
}
