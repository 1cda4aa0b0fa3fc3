import { join } from 'node:path';
import {
  appendLineageEvent,
  appendStartEvent,
  ConfigError,
  newRunId,
  sha256,
  warehouseLayout,
  writeFileAtomic,
} from '@enecg/common';
import type { EvaluationReport, TaskEvaluation } from '../evaluation-types.ts';
import { isRandomInitFeatureSet, isWeightlessFeatureSet } from '../features/store.ts';
import { disposeInferenceModel, toInferenceModel } from '../predict/infer.ts';
import { withTrainingBackend } from '../train/backend.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';
import { rowsOfSplit } from '../train/dataset.ts';
import { disposeWeights } from '../train/fit.ts';
import { parameterCounts } from '../train/model.ts';
import { GATE_INPUT_EXPERT, loadWarehouseSet, resolveFeatureSources } from '../train/warehouse-set.ts';
import { evaluateOnSplit } from './evaluate-model.ts';

export interface EvaluateStageOptions {
  warehouse: string;
  modelId: string;
  runId?: string;
  split?: 'test' | 'val';
  /** Bootstrap replicates for the 95% intervals. */
  replicates?: number;
  seed?: number;
  /** Bootstrap replicates computed so far, over every task and model compared. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface EvaluateSummary {
  modelId: string;
  evaluationPath: string;
  evaluationSha256: string;
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

/** Where a model's evaluation on a split is kept, beside the model: the test split's is the one reports show. */
export function evaluationFileName(split: 'test' | 'val'): string {
  return split === 'test' ? 'evaluation.json' : `evaluation-${split}.json`;
}

/**
 * Evaluates a trained model on the test (or val) split; writes models/<modelId>/evaluation.json (test) or
 * evaluation-val.json (val, which promotion decides on, so that the test split stays for reporting).
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
  const loaded = await loadWarehouseSet(options.warehouse, sources, manifest.labelSet);
  const model = toInferenceModel(manifest.shape, weights, manifest.targetScale);
  disposeWeights(weights);
  const tasks = evaluateOnSplit(loaded.set, model, {
    split,
    trainRows: rowsOfSplit(loaded.set, 'train'),
    replicates,
    seed: options.seed ?? manifest.config.seed,
    onProgress: options.onProgress,
  });
  disposeInferenceModel(model);
  const counts = parameterCounts(manifest.shape);
  const splitStudies = rowsOfSplit(loaded.set, split)
    .map((row) => loaded.set.studyIds[row] as number)
    .sort((a, b) => a - b);
  const report: EvaluationReport = {
    modelId: manifest.modelId,
    runId,
    split,
    splitSha256: sha256(splitStudies.join('\n')),
    experts: manifest.shape.experts.map(({ name }) => name),
    tasks,
    trainingCurve: manifest.trainingCurve,
    trainableParameters: counts.trainable,
    totalParameters: counts.total,
    preset: manifest.config.preset,
    randomInitExperts: manifest.shape.experts
      .map(({ name }) => name)
      .filter((name) => isRandomInitFeatureSet(manifest.featureCaches[name] ?? '')),
    weightlessExperts: manifest.shape.experts
      .map(({ name }) => name)
      .filter((name) => isWeightlessFeatureSet(manifest.featureCaches[name] ?? '')),
    keptEpoch: manifest.bestEpoch,
  };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const evaluationPath = join(modelDir, evaluationFileName(split));
  await writeFileAtomic(evaluationPath, text);
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
        name: `models/${manifest.modelId}/${evaluationFileName(split)}`,
        path: evaluationPath,
        sha256: evaluationSha256,
      },
    ],
    facets: { split, replicates, seed: options.seed ?? manifest.config.seed },
  });
  const pointEstimates = (set: Record<string, { value: number }>) =>
    Object.fromEntries(Object.entries(set).map(([name, metric]) => [name, metric.value]));
  return {
    modelId: manifest.modelId,
    evaluationPath,
    evaluationSha256,
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
