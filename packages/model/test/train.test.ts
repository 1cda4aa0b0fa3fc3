import { ConfigError, InputError } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../src/train/adamw.ts';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { resolveTrainConfig } from '../src/train/config.ts';
import { gatherBatch, rowsOfSplit, type TrainingSet, validateTrainingSet } from '../src/train/dataset.ts';
import { disposeWeights, type FittedModel, fitModel, foldRows, modelShapeFor } from '../src/train/fit.ts';
import { createRng, shuffled } from '../src/train/prng.ts';
import { meanLoss } from './support/reference-loss.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

const small = { hiddenSize: 16, gate: { length: 32 }, maxEpochs: 2 } as const;

function weightValues(fitted: FittedModel): Record<string, number[]> {
  return Object.fromEntries(
    Object.entries(fitted.weights).map(([name, t]) => [name, Array.from(t.dataSync())]),
  );
}

describe('training configuration', () => {
  it('faithful preset is the reference setup', () => {
    const config = resolveTrainConfig({ preset: 'faithful' });
    expect(config).toMatchObject({
      lora: { rank: 8, alpha: 32, dropout: 0.05 },
      learningRate: 1e-4,
      batchSize: 16,
      maxEpochs: 5,
      seed: 42,
      hiddenSize: 256,
      trainLastHeadLayer: false,
      gate: { leads: ['II'], length: 5000, topK: 0 },
    });
    expect(config.tasks).toHaveLength(5);
  });

  it('refuses bad values naming the key', () => {
    const keyOf = (input: Parameters<typeof resolveTrainConfig>[0]) => {
      try {
        resolveTrainConfig(input);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).key;
      }
      return undefined;
    };
    expect(keyOf({ lora: { rank: 0 } })).toBe('lora.rank');
    expect(keyOf({ tasks: ['heart_rate' as never] })).toBe('tasks');
    expect(keyOf({ preset: 'fast' as never })).toBe('preset');
    expect(keyOf({ lossWeights: { age: -1 } })).toBe('lossWeights.age');
    expect(keyOf({ lora: { dropout: 1 } })).toBe('lora.dropout');
  });

  it('refuses a gate config the cached gate input cannot feed', () => {
    const set = syntheticTrainingSet({ studies: 20, seed: 1, gateDim: 32 });
    expect(() => modelShapeFor(set, resolveTrainConfig({ gate: { length: 5000 } }))).toThrow(/gate.length/);
  });
});

describe('batches (reference defect: independently shuffled loaders)', () => {
  /** Every array encodes its row's study id, so a misaligned row is visible. */
  function taggedSet(n: number): TrainingSet {
    const ids = Array.from({ length: n }, (_, i) => 1000 + i);
    const tagged = (dim: number) => ({
      dim,
      matrix: Float32Array.from({ length: n * dim }, (_, k) => ids[Math.floor(k / dim)] as number),
    });
    return {
      studyIds: ids,
      subjectIds: ids,
      split: ids.map(() => 'train'),
      fold: ids.map(() => 0),
      labels: { age: Float64Array.from(ids), rr_interval: Float64Array.from(ids, (id) => id * 2) },
      expertFeatures: { a: tagged(3), b: tagged(5), c: tagged(2) },
      gateInput: tagged(4),
    };
  }

  it('one permutation drives every expert, the gate input and the labels', () => {
    const set = taggedSet(100);
    const order = shuffled(
      set.studyIds.map((_, i) => i),
      createRng(42),
    );
    for (let start = 0; start < order.length; start += 16) {
      const batch = gatherBatch(set, order.slice(start, start + 16), ['age', 'rr_interval']);
      batch.indices.forEach((row, i) => {
        const id = set.studyIds[row] as number;
        for (const [name, values] of Object.entries(batch.experts)) {
          const dim = set.expertFeatures[name]?.dim as number;
          expect(Array.from(values.subarray(i * dim, (i + 1) * dim))).toEqual(new Array(dim).fill(id));
        }
        expect(batch.gate[i * 4]).toBe(id);
        expect(batch.labels.age?.[i]).toBe(id);
        expect(batch.labels.rr_interval?.[i]).toBe(id * 2);
      });
    }
  });

  it('refuses a set whose arrays disagree in length', () => {
    const set = taggedSet(10);
    set.expertFeatures.b = { dim: 5, matrix: new Float32Array(9 * 5) };
    expect(() => validateTrainingSet(set, 'features.parquet')).toThrow(InputError);
    expect(() => validateTrainingSet(set, 'features.parquet')).toThrow(/field b/);
  });
});

describe('fitting', () => {
  let set: TrainingSet;
  beforeAll(async () => {
    await ensureTrainingBackend();
    set = syntheticTrainingSet({ studies: 300, seed: 3 });
  });

  it('gives a fresh model and optimiser to every fold (reference defect: one model for all folds)', async () => {
    const config = resolveTrainConfig({ ...small, maxEpochs: 1 });
    const fold0 = await fitModel(set, config, foldRows(set, 0));
    const fold1AfterFold0 = await fitModel(set, config, foldRows(set, 1));
    const fold1Alone = await fitModel(set, config, foldRows(set, 1));
    expect(fold1AfterFold0.curve).toEqual(fold1Alone.curve);
    expect(weightValues(fold1AfterFold0)).toEqual(weightValues(fold1Alone));
    const { train, val } = foldRows(set, 1);
    expect(new Set(train.map((row) => set.fold[row]))).not.toContain(1);
    expect(val.every((row) => set.fold[row] === 1 && set.split[row] !== 'test')).toBe(true);
    for (const fitted of [fold0, fold1AfterFold0, fold1Alone]) disposeWeights(fitted.weights);
  });

  it('same seed and data give identical weights; another seed does not', async () => {
    const rows = { train: rowsOfSplit(set, 'train'), val: rowsOfSplit(set, 'val') };
    const a = await fitModel(set, resolveTrainConfig(small), rows);
    const b = await fitModel(set, resolveTrainConfig(small), rows);
    const c = await fitModel(set, resolveTrainConfig({ ...small, seed: 7 }), rows);
    expect(weightValues(a)).toEqual(weightValues(b));
    expect(a.curve).toEqual(b.curve);
    expect(a.curve).not.toEqual(c.curve);
    for (const fitted of [a, b, c]) disposeWeights(fitted.weights);
  });

  it('masks missing labels: a row without a label adds nothing to that task loss', async () => {
    const config = resolveTrainConfig({ ...small, tasks: ['age'] });
    const fitted = await fitModel(set, config, { train: rowsOfSplit(set, 'train'), val: [] });
    const labelled = rowsOfSplit(set, 'test').filter((row) => Number.isFinite(set.labels.age?.[row]));
    const unlabelled = rowsOfSplit(set, 'test').filter((row) => !Number.isFinite(set.labels.age?.[row]));
    expect(unlabelled.length).toBeGreaterThan(0);
    const loss = (rows: number[]) =>
      meanLoss(set, config, fitted.shape, fitted.weights, fitted.targetScale, rows);
    expect(loss([...labelled, ...unlabelled])).toBeCloseTo(loss(labelled), 5);
    expect(Number.isFinite(loss(labelled))).toBe(true);
    disposeWeights(fitted.weights);
  });

  it('stops early when validation stops improving and keeps the best epoch', async () => {
    const config = resolveTrainConfig({ ...small, maxEpochs: 30, patience: 1, learningRate: 0.05 });
    const fitted = await fitModel(set, config, {
      train: rowsOfSplit(set, 'train'),
      val: rowsOfSplit(set, 'val'),
    });
    expect(fitted.curve.length).toBeLessThan(30);
    const best = Math.min(...fitted.curve.map((epoch) => epoch.valLoss));
    expect(fitted.curve[fitted.bestEpoch - 1]?.valLoss).toBe(best);
    const rows = rowsOfSplit(set, 'val');
    expect(meanLoss(set, config, fitted.shape, fitted.weights, fitted.targetScale, rows)).toBeCloseTo(
      best,
      4,
    );
    disposeWeights(fitted.weights);
  });

  it('faithful mode leaves the frozen layers, the last head layer included, at their init', async () => {
    const config = resolveTrainConfig({ ...small, preset: 'faithful', gate: { length: 32 }, maxEpochs: 1 });
    const rows = { train: rowsOfSplit(set, 'train'), val: [] };
    const fitted = await fitModel(set, config, rows);
    const again = await fitModel(set, { ...config, maxEpochs: 1, learningRate: 1e-9 }, rows);
    for (const name of ['head.fc3.weight', 'head.fc2.weight', 'gate.fc1.weight']) {
      expect(Array.from(fitted.weights[name]?.dataSync() ?? [])).toEqual(
        Array.from(again.weights[name]?.dataSync() ?? []),
      );
    }
    expect(Array.from(fitted.weights['head.fc2.lora_b']?.dataSync() ?? []).some((v) => v !== 0)).toBe(true);
    disposeWeights(fitted.weights);
    disposeWeights(again.weights);
  });
});

describe('AdamW', () => {
  it('decays weights directly, independent of the gradient scale', () => {
    const params = Float32Array.from([2, -4]);
    new AdamW({ learningRate: 0.1, weightDecay: 0.5 }, 2).update(params, Float32Array.from([0, 0]));
    expect(Array.from(params)).toEqual([2 * 0.95, -4 * 0.95].map(Math.fround));
    const moved = Float32Array.from([1]);
    new AdamW({ learningRate: 0.1, weightDecay: 0 }, 1).update(moved, Float32Array.from([1000]));
    expect(moved[0]).toBeCloseTo(0.9, 5);
  });
});
