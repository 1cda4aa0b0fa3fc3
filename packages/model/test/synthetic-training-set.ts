import type { TaskKey } from '../src/evaluation-types.ts';
import type { Split, TrainingSet } from '../src/train/dataset.ts';
import { createRng } from '../src/train/prng.ts';

export interface SyntheticOptions {
  studies: number;
  seed: number;
  /** Expert name -> embedding width; the last expert listed carries no signal at all. */
  experts?: Record<string, number>;
  gateDim?: number;
  /** Fraction of labels removed per task. */
  missing?: number;
}

/**
 * Features with a known signal: each study has a latent vector z; every label is a function of z
 * plus noise; each expert sees z through its own random projection with its own noise level.
 * Subjects own 1-3 studies and are split 70/10/20 by subject into train/val/test, 3 folds.
 */
export function syntheticTrainingSet(options: SyntheticOptions): TrainingSet {
  const rng = createRng(options.seed);
  const normal = () => {
    const u = Math.max(rng(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  };
  const experts = options.experts ?? { alpha: 16, beta: 24, noise: 8 };
  const gateDim = options.gateDim ?? 32;
  const missing = options.missing ?? 0.1;
  const latent = 4;
  const n = options.studies;
  const studyIds: number[] = [];
  const subjectIds: number[] = [];
  const split: Split[] = [];
  const fold: number[] = [];
  let subject = 10_000_000;
  while (studyIds.length < n) {
    subject += 1;
    const draw = rng();
    const subjectSplit: Split = draw < 0.7 ? 'train' : draw < 0.8 ? 'val' : 'test';
    const subjectFold = subject % 3;
    const count = 1 + Math.floor(rng() * 3);
    for (let k = 0; k < count && studyIds.length < n; k++) {
      studyIds.push(40_000_000 + studyIds.length);
      subjectIds.push(subject);
      split.push(subjectSplit);
      fold.push(subjectFold);
    }
  }
  const z = Array.from({ length: n }, () => Array.from({ length: latent }, normal));
  const labels: Record<TaskKey, Float64Array> = {
    rr_interval: Float64Array.from(z, (v) => 800 + 150 * (v[0] as number) + 20 * normal()),
    age: Float64Array.from(z, (v) => 60 + 15 * (v[1] as number) + 3 * normal()),
    gender: Float64Array.from(z, (v) => ((v[2] as number) + 0.3 * normal() > 0 ? 1 : 0)),
    flag: Float64Array.from(z, (v) => ((v[3] as number) + 0.3 * normal() > 0.5 ? 1 : 0)),
    report_label: Float64Array.from(z, (v) => {
      const score = (v[0] as number) + (v[3] as number);
      return Math.min(14, Math.max(0, Math.floor((score + 3) * 2.5)));
    }),
  };
  for (const values of Object.values(labels)) {
    for (let i = 0; i < n; i++) if (rng() < missing) values[i] = Number.NaN;
  }
  const names = Object.keys(experts);
  const expertFeatures: TrainingSet['expertFeatures'] = {};
  names.forEach((name, e) => {
    const dim = experts[name] as number;
    const informative = e < names.length - 1;
    const projection = Array.from({ length: latent * dim }, normal);
    const noise = 0.1 + 0.2 * e;
    const matrix = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) {
        let value = noise * normal();
        if (informative) {
          for (let k = 0; k < latent; k++) {
            value += ((z[i] as number[])[k] as number) * (projection[k * dim + j] as number);
          }
        }
        matrix[i * dim + j] = value;
      }
    }
    expertFeatures[name] = { dim, matrix };
  });
  const gate = new Float32Array(n * gateDim);
  for (let i = 0; i < gate.length; i++) gate[i] = normal();
  return {
    studyIds,
    subjectIds,
    split,
    fold,
    labels,
    expertFeatures,
    gateInput: { dim: gateDim, matrix: gate },
  };
}
