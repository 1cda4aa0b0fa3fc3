import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { intervals, pairedDifference } from '../src/evaluate/bootstrap.ts';
import { evaluateOnSplit, pairedSamplesOnSplit } from '../src/evaluate/evaluate-model.ts';
import { TASKS, type TaskEvaluation, type TaskKey } from '../src/evaluation-types.ts';
import { infer, inputsOfRows, toInferenceModel } from '../src/predict/infer.ts';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { encodeWeights, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.ts';
import { resolveTrainConfig, type TrainConfigInput } from '../src/train/config.ts';
import { rowsOfSplit, type TrainingSet } from '../src/train/dataset.ts';
import { type FittedModel, fitModel } from '../src/train/fit.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

const settings: TrainConfigInput = { hiddenSize: 64, gate: { length: 32 }, maxEpochs: 12, patience: 3 };

async function trainAndEvaluate(set: TrainingSet, input: TrainConfigInput) {
  const config = resolveTrainConfig(input);
  const rows = { train: rowsOfSplit(set, 'train'), val: rowsOfSplit(set, 'val') };
  const fitted = await fitModel(set, config, rows);
  const model = toInferenceModel(fitted.shape, fitted.weights, fitted.targetScale);
  const tasks = evaluateOnSplit(set, model, {
    split: 'test',
    trainRows: rows.train,
    replicates: 200,
    seed: 42,
  });
  return { fitted, model, tasks };
}

/** The headline metric of a task and whether lower is better. */
function headline(evaluation: TaskEvaluation) {
  return evaluation.kind === 'regression'
    ? { ensemble: evaluation.ensemble.mae, baseline: evaluation.baseline.mae, lowerIsBetter: true }
    : { ensemble: evaluation.ensemble.f1, baseline: evaluation.baseline.f1, lowerIsBetter: false };
}

describe('evaluation on features with a known signal', () => {
  let set: TrainingSet;
  let run: Awaited<ReturnType<typeof trainAndEvaluate>>;
  beforeAll(async () => {
    await ensureTrainingBackend();
    set = syntheticTrainingSet({ studies: 1600, seed: 11 });
    run = await trainAndEvaluate(set, settings);
  }, 120_000);

  it('the ensemble beats the trivial baseline on every task, intervals apart', () => {
    for (const task of TASKS) {
      const evaluation = run.tasks[task] as TaskEvaluation;
      expect(evaluation.n).toBeGreaterThan(200);
      const { ensemble, baseline, lowerIsBetter } = headline(evaluation);
      if (lowerIsBetter) expect(ensemble?.hi, task).toBeLessThan(baseline?.lo as number);
      else expect(ensemble?.lo, task).toBeGreaterThan(baseline?.hi as number);
      expect(evaluation.versusBaseline.verdict, task).toBe('better');
    }
  });

  it('compares the ensemble with its best single expert head, paired, on the headline metric', () => {
    for (const task of TASKS) {
      const evaluation = run.tasks[task] as TaskEvaluation;
      const versus = evaluation.versusBestExpert;
      expect(versus, task).toBeDefined();
      const metric = evaluation.kind === 'regression' ? 'mae' : 'auroc';
      expect(versus?.metric).toBe(metric);
      const scores = Object.entries(evaluation.experts).map(
        ([name, set]) => [name, set[metric]?.value as number] as const,
      );
      const best = scores.reduce((a, b) => ((metric === 'mae' ? b[1] < a[1] : b[1] > a[1]) ? b : a));
      expect(versus?.expert, task).toBe(best[0]);
      expect(versus?.expert, task).not.toBe('noise');
      expect(versus?.difference.value).toBeCloseTo(
        (evaluation.ensemble[metric]?.value as number) - best[1],
        9,
      );
      expect(versus?.difference.lo).toBeLessThanOrEqual(versus?.difference.hi as number);
    }
  });

  it('reports accuracy, macro P/R/F1 and AUROC for classification; MAE/MSE for regression; per expert too', () => {
    const gender = run.tasks.gender as TaskEvaluation;
    expect(Object.keys(gender.ensemble).sort()).toEqual(['accuracy', 'auroc', 'f1', 'precision', 'recall']);
    expect(gender.baseline.auroc?.value).toBeCloseTo(0.5);
    expect(Object.keys(gender.experts).sort()).toEqual(['alpha', 'beta', 'noise']);
    expect(gender.confusion?.flat().reduce((a, b) => a + b, 0)).toBe(gender.n);
    const age = run.tasks.age as TaskEvaluation;
    expect(Object.keys(age.ensemble).sort()).toEqual(['mae', 'mse']);
    expect(age.scatter?.length).toBeGreaterThan(0);
    expect(Object.keys(age.gateWeightsByGroup)).toEqual(['Q1', 'Q2', 'Q3', 'Q4']);
    // The expert without signal is no better than the baseline; an informative one is.
    expect(age.experts.noise?.mae?.lo).toBeGreaterThan(age.experts.alpha?.mae?.hi as number);
  });

  it('scores separately trained models on the same replicates (pairedSamplesOnSplit), as evaluateOnSplit does', () => {
    const rows = rowsOfSplit(set, 'test');
    const predictions = infer(run.model, inputsOfRows(set, rows));
    const options = {
      split: 'test' as const,
      trainRows: rowsOfSplit(set, 'train'),
      replicates: 200,
      seed: 42,
    };
    const samples = pairedSamplesOnSplit(set, { first: predictions, again: predictions }, options);
    for (const task of TASKS) {
      const scored = samples[task]!;
      const evaluation = run.tasks[task] as TaskEvaluation;
      expect(scored.n).toBe(evaluation.n);
      // Same model under two names: a paired difference of exactly 0 on every replicate.
      const difference = pairedDifference(scored.models.first!, scored.models.again!, scored.metric);
      expect([difference.value, difference.lo, difference.hi]).toEqual([0, 0, 0]);
      expect(intervals(scored.models.first!)[scored.metric]).toEqual(evaluation.ensemble[scored.metric]);
      expect(intervals(scored.baseline)[scored.metric]).toEqual(evaluation.baseline[scored.metric]);
    }
  });

  it('gate weights sum to 1 for every sample and task', () => {
    const rows = rowsOfSplit(set, 'test');
    const predictions = infer(run.model, inputsOfRows(set, rows));
    for (const task of TASKS) {
      const weights = predictions[task]?.gateWeights as Float32Array;
      expect(weights.length).toBe(rows.length * 3);
      for (let i = 0; i < rows.length; i++) {
        const sum =
          (weights[i * 3] as number) + (weights[i * 3 + 1] as number) + (weights[i * 3 + 2] as number);
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
      const mean = Object.values((run.tasks[task] as TaskEvaluation).gateWeightMean).reduce((a, b) => a + b);
      expect(mean).toBeCloseTo(1, 5);
    }
  });

  it('a checkpoint round trip (safetensors + model.json) predicts the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'enecg-ckpt-'));
    try {
      const fitted: FittedModel = run.fitted;
      const config = resolveTrainConfig(settings);
      await saveCheckpoint(dir, encodeWeights(fitted.weights), {
        modelId: 'moe-test',
        config,
        shape: fitted.shape,
        targetScale: fitted.targetScale,
        trainingCurve: fitted.curve,
        bestEpoch: fitted.bestEpoch,
        inputs: [],
        featureCaches: {},
        backend: 'wasm',
      });
      const { manifest, weights } = await loadCheckpoint(dir);
      const reloaded = toInferenceModel(manifest.shape, weights, manifest.targetScale);
      const rows = rowsOfSplit(set, 'test').slice(0, 50);
      const a = infer(run.model, inputsOfRows(set, rows));
      const b = infer(reloaded, inputsOfRows(set, rows));
      for (const task of TASKS)
        expect(Array.from(b[task]?.ensemble ?? [])).toEqual(Array.from(a[task]?.ensemble ?? []));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('reproducibility and configurations', () => {
  it('same seed and data give identical metrics', async () => {
    await ensureTrainingBackend();
    const set = syntheticTrainingSet({ studies: 400, seed: 5 });
    const input = { ...settings, hiddenSize: 16, maxEpochs: 2 };
    const first = await trainAndEvaluate(set, input);
    const second = await trainAndEvaluate(set, input);
    expect(JSON.stringify(second.tasks)).toBe(JSON.stringify(first.tasks));
  }, 60_000);

  it('single-task training covers only its task', async () => {
    const set = syntheticTrainingSet({ studies: 400, seed: 5 });
    const single = await trainAndEvaluate(set, {
      ...settings,
      hiddenSize: 16,
      maxEpochs: 2,
      tasks: ['gender'],
    });
    expect(Object.keys(single.tasks)).toEqual(['gender' satisfies TaskKey]);
  }, 60_000);
});
