import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  appendLineageEvent,
  appendStartEvent,
  ConfigError,
  codeVersion,
  hashObject,
  newRunId,
  sha256,
  warehouseLayout,
  writeFileOnce,
} from '@enecg/common';
import type { EvaluationReport, TaskEvaluation } from '../evaluation-types.ts';
import { isRandomInitFeatureSet, isWeightlessFeatureSet } from '../features/store.ts';
import { disposeInferenceModel, toInferenceModel } from '../predict/infer.ts';
import { withTrainingBackend } from '../train/backend.ts';
import { loadCheckpoint, type ModelManifest } from '../train/checkpoint.ts';
import { rowsOfSplit, type TrainingSet } from '../train/dataset.ts';
import { disposeWeights } from '../train/fit.ts';
import { parameterCounts, type Weights } from '../train/model.ts';
import { GATE_INPUT_EXPERT, loadWarehouseSet, resolveFeatureSources } from '../train/warehouse-set.ts';
import { evaluateOnSplit } from './evaluate-model.ts';

export interface EvaluateStageOptions {
  warehouse: string;
  modelId: string;
  runId?: string;
  split?: 'test' | 'val';
  /**
   * The label set whose split and labels to evaluate on (default: the one the model was trained on). A
   * nightly promotion evaluates the champion on today's set, so that both models face the same studies.
   */
  labelSet?: string;
  /** Bootstrap replicates for the 95% intervals. */
  replicates?: number;
  seed?: number;
  /** Bootstrap replicates computed so far, over every task and model compared. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface EvaluateSummary {
  modelId: string;
  /** models/<modelId>/evaluations/<split>-<evaluationKey>.json, written once. */
  evaluationPath: string;
  evaluationSha256: string;
  /** Hashes everything the evaluation depends on: model weights, split data, replicates, seed, code. */
  evaluationKey: string;
  /** An evaluation with this key was stored before (by this run or another): it is reused as it is. */
  reused: boolean;
  split: 'test' | 'val';
  tasks: Record<
    string,
    {
      n: number;
      ensemble: Record<string, number>;
      baseline: Record<string, number>;
      versusBaseline: TaskEvaluation['versusBaseline']['verdict'];
    }
  >;
}

/**
 * Evaluates a trained model on the test split (which reports show) or the val split (which promotion decides
 * on, so that the test split stays for reporting). Each evaluation is stored once, under a name keyed by all
 * it depends on (`models/<modelId>/evaluations/<split>-<key>.json`): evaluating again with the same model,
 * data and settings reuses the stored file without recomputing it, and other settings add another file, so
 * no evaluation a report or lineage event names is ever rewritten.
 */
export async function evaluate(options: EvaluateStageOptions): Promise<EvaluateSummary> {
  return withTrainingBackend(() => evaluateOn(options));
}

async function evaluateOn(options: EvaluateStageOptions): Promise<EvaluateSummary> {
  const split = options.split ?? 'test';
  const replicates = options.replicates ?? 1000;
  if (!(Number.isInteger(replicates) && replicates >= 10)) {
    throw new ConfigError('must be an integer >= 10', 'replicates');
  }
  if (split !== 'test' && split !== 'val') throw new ConfigError('must be test or val', 'split');
  const runId = options.runId ?? newRunId();
  const modelDir = join(warehouseLayout(options.warehouse).models, options.modelId);
  await appendStartEvent(options.warehouse, { runId }, 'evaluate', { split, modelId: options.modelId });
  const { manifest, weights } = await loadCheckpoint(modelDir);
  const sources = await resolveFeatureSources(
    options.warehouse,
    manifest.shape.experts.map(({ name }) => `${name}/${manifest.featureCaches[name]}`),
    manifest.featureCaches[GATE_INPUT_EXPERT],
  );
  const loaded = await loadWarehouseSet(options.warehouse, sources, options.labelSet ?? manifest.labelSet);
  const bootstrapSeed = options.seed ?? manifest.config.seed;
  const evaluationKey = hashObject({
    model: { modelId: manifest.modelId, weightsSha256: manifest.weightsSha256 },
    split,
    data: loaded.inputs.map(({ name, sha256 }) => ({ name, sha256 })),
    replicates,
    seed: bootstrapSeed,
    code: await codeVersion(),
  }).slice(0, 16);
  const evaluationPath = join(modelDir, 'evaluations', `${split}-${evaluationKey}.json`);
  let text = await readIfPresent(evaluationPath);
  const reused = text !== null;
  if (text === null) {
    const report = evaluationReport(loaded.set, manifest, weights, {
      runId,
      split,
      evaluationKey,
      replicates,
      seed: bootstrapSeed,
      onProgress: options.onProgress,
    });
    const computed = `${JSON.stringify(report, null, 2)}\n`;
    // Another run evaluating the same key at the same time may have stored it first: keep and use that one.
    text = (await writeFileOnce(evaluationPath, computed))
      ? computed
      : await readFile(evaluationPath, 'utf8');
  }
  disposeWeights(weights);
  const { tasks } = JSON.parse(text) as EvaluationReport;
  const evaluationSha256 = sha256(text);
  await appendLineageEvent(options.warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId },
    job: { name: 'evaluate' },
    inputs: [
      {
        name: `models/${manifest.modelId}/model.safetensors`,
        path: join(modelDir, 'model.safetensors'),
        sha256: manifest.weightsSha256,
      },
      ...loaded.inputs,
    ],
    outputs: [
      {
        name: `models/${manifest.modelId}/evaluations/${split}`,
        path: evaluationPath,
        sha256: evaluationSha256,
      },
    ],
    facets: { split, replicates, seed: bootstrapSeed, evaluationKey, reused },
  });
  const pointEstimates = (set: Record<string, { value: number }>) =>
    Object.fromEntries(Object.entries(set).map(([name, metric]) => [name, metric.value]));
  return {
    modelId: manifest.modelId,
    evaluationPath,
    evaluationSha256,
    evaluationKey,
    reused,
    split,
    tasks: Object.fromEntries(
      Object.entries(tasks).map(([task, evaluation]) => [
        task,
        {
          n: evaluation.n,
          ensemble: pointEstimates(evaluation.ensemble),
          baseline: pointEstimates(evaluation.baseline),
          versusBaseline: evaluation.versusBaseline.verdict,
        },
      ]),
    ),
  };
}

interface EvaluationSettings {
  runId: string;
  split: 'test' | 'val';
  evaluationKey: string;
  replicates: number;
  seed: number;
  onProgress?: EvaluateStageOptions['onProgress'];
}

/** Runs the model over the split and bootstraps every metric: the stored evaluation. */
function evaluationReport(
  set: TrainingSet,
  manifest: ModelManifest,
  weights: Weights,
  settings: EvaluationSettings,
): EvaluationReport {
  const { split } = settings;
  const model = toInferenceModel(manifest.shape, weights, manifest.targetScale);
  const tasks = evaluateOnSplit(set, model, {
    split,
    trainRows: rowsOfSplit(set, 'train'),
    replicates: settings.replicates,
    seed: settings.seed,
    onProgress: settings.onProgress,
  });
  disposeInferenceModel(model);
  const counts = parameterCounts(manifest.shape);
  const splitStudies = rowsOfSplit(set, split)
    .map((row) => set.studyIds[row] as number)
    .sort((a, b) => a - b);
  const experts = manifest.shape.experts.map(({ name }) => name);
  const expertsWhere = (test: (key: string) => boolean) =>
    experts.filter((name) => test(manifest.featureCaches[name] ?? ''));
  return {
    modelId: manifest.modelId,
    runId: settings.runId,
    split,
    evaluationKey: settings.evaluationKey,
    replicates: settings.replicates,
    seed: settings.seed,
    splitSha256: sha256(splitStudies.join('\n')),
    experts,
    tasks,
    trainingCurve: manifest.trainingCurve,
    trainableParameters: counts.trainable,
    totalParameters: counts.total,
    preset: manifest.config.preset,
    randomInitExperts: expertsWhere(isRandomInitFeatureSet),
    weightlessExperts: expertsWhere(isWeightlessFeatureSet),
    keptEpoch: manifest.bestEpoch,
  };
}

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
