import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { IntegrityError } from '@enecg/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASKS } from '../src/evaluation-types.ts';
import { createExpert } from '../src/experts/registry.ts';
import { featureSetKey } from '../src/features/index.ts';
import { infer, toInferenceModel } from '../src/predict/infer.ts';
import { predict } from '../src/predict/predict.ts';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { encodeWeights, saveCheckpoint } from '../src/train/checkpoint.ts';
import { resolveTrainConfig } from '../src/train/config.ts';
import type { TrainingSet } from '../src/train/dataset.ts';
import { type FittedModel, fitModel } from '../src/train/fit.ts';
import { syntheticRecords } from './support/records.ts';

const sharedData = process.env.ENECG_SHARED_DATA ?? resolve(import.meta.dirname, '../../../../shared/data');
const realHeader = join(sharedData, 'wfdb-python/sample-data/s0010_re.hea');

describe('predict one record with the frozen experts', () => {
  const records = syntheticRecords(40, 3);
  let modelDir: string;
  let fitted: FittedModel;
  let embeddings: { dlinear: Float32Array[]; gate: Float32Array[] };
  let caches: Record<string, string>;

  beforeAll(async () => {
    await ensureTrainingBackend();
    const dlinear = await createExpert('dlinear', { seed: 42 });
    const rawLeads = await createExpert('raw-leads', { seed: 42 });
    embeddings = { dlinear: await dlinear.embed(records), gate: await rawLeads.embed(records) };
    caches = {
      dlinear: featureSetKey(dlinear.weightsId, dlinear.preprocessingHash, { seed: 42 }),
      'raw-leads': featureSetKey(rawLeads.weightsId, rawLeads.preprocessingHash, { seed: 42 }),
    };
    const n = records.length;
    const matrix = (rows: Float32Array[]) => ({
      dim: (rows[0] as Float32Array).length,
      matrix: Float32Array.from(rows.flatMap((row) => Array.from(row))),
    });
    const set: TrainingSet = {
      studyIds: records.map((r) => r.studyId),
      subjectIds: records.map((r) => r.subjectId),
      split: records.map((_, i) => (i < 32 ? 'train' : 'val')),
      fold: records.map((_, i) => i % 3),
      labels: {
        rr_interval: Float64Array.from({ length: n }, (_, i) => 600 + 10 * i),
        age: Float64Array.from({ length: n }, (_, i) => 40 + i),
        gender: Float64Array.from({ length: n }, (_, i) => i % 2),
        flag: Float64Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0)),
        report_label: Float64Array.from({ length: n }, (_, i) => i % 15),
      },
      expertFeatures: { dlinear: matrix(embeddings.dlinear) },
      gateInput: matrix(embeddings.gate),
    };
    const config = resolveTrainConfig({ hiddenSize: 16, maxEpochs: 1 });
    fitted = await fitModel(set, config, { train: set.studyIds.map((_, i) => i).slice(0, 32), val: [] });
    modelDir = await mkdtemp(join(tmpdir(), 'enecg-predict-'));
    await saveCheckpoint(modelDir, encodeWeights(fitted.weights), {
      modelId: 'moe-predict-test',
      config,
      shape: fitted.shape,
      targetScale: fitted.targetScale,
      trainingCurve: fitted.curve,
      bestEpoch: fitted.bestEpoch,
      inputs: [],
      featureCaches: caches,
      backend: 'wasm',
    });
    dlinear.dispose();
    rawLeads.dispose();
  }, 120_000);

  afterAll(async () => {
    await rm(modelDir, { recursive: true, force: true });
  });

  it('answers all five tasks, with every expert weight, as the model does on the cached features', async () => {
    const result = await predict({ modelDir, record: records[5] as never });
    expect(Object.keys(result.predictions).sort()).toEqual([...TASKS].sort());
    const cached = infer(toInferenceModel(fitted.shape, fitted.weights, fitted.targetScale), {
      rows: 1,
      experts: { dlinear: embeddings.dlinear[5] as Float32Array },
      gate: embeddings.gate[5] as Float32Array,
    });
    expect(result.predictions.age?.value).toBeCloseTo(cached.age?.ensemble[0] as number, 3);
    expect(result.predictions.report_label?.probabilities).toHaveLength(15);
    for (const task of TASKS) {
      const weights = Object.values(result.predictions[task]?.experts ?? {}).map((e) => e.weight);
      expect(weights).toHaveLength(1);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it.skipIf(!existsSync(realHeader))('reads a real 12-lead WFDB record by its header path', async () => {
    const result = await predict({ modelDir, record: realHeader });
    expect(Number.isFinite(result.predictions.rr_interval?.value)).toBe(true);
    expect(result.predictions.gender?.class === 0 || result.predictions.gender?.class === 1).toBe(true);
  });

  it('refuses an expert whose preprocessing differs from its feature cache', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'enecg-predict-'));
    try {
      await saveCheckpoint(otherDir, encodeWeights(fitted.weights), {
        modelId: 'moe-mismatch',
        config: resolveTrainConfig({ hiddenSize: 16, maxEpochs: 1 }),
        shape: fitted.shape,
        targetScale: fitted.targetScale,
        trainingCurve: [],
        bestEpoch: 1,
        inputs: [],
        featureCaches: { ...caches, dlinear: 'seeded-0000000000' },
        backend: 'wasm',
      });
      await expect(predict({ modelDir: otherDir, record: records[0] as never })).rejects.toThrow(
        IntegrityError,
      );
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});
