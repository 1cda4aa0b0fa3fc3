import { join } from 'node:path';
import {
  appendLineageEvent,
  appendStartEvent,
  currentLakeSnapshot,
  hashObject,
  newRunId,
  readLineageHead,
  warehouseLayout,
  warehousePath,
} from '@enecg/common';
import type { ExpertOptions } from '../experts/types.ts';
import { readManifest } from '../features/index.ts';
import { withTrainingBackend } from './backend.ts';
import { encodeWeights, saveCheckpoint } from './checkpoint.ts';
import { checkThreads, resolveTrainConfig, type TrainConfigInput } from './config.ts';
import { rowsOfSplit, validateTrainingSet } from './dataset.ts';
import { disposeWeights, type EpochRecord, fitModel, foldRows } from './fit.ts';
import { parameterCounts } from './model.ts';
import { type FeatureSource, loadWarehouseSet, resolveFeatureSources } from './warehouse-set.ts';

export interface TrainOptions {
  warehouse: string;
  runId?: string;
  config?: TrainConfigInput;
  /** Experts to ensemble (`name` or `name/<cache key>`); absent = every cached expert. */
  experts?: string[];
  /** The gate input's cache key under features/raw-leads/ (needed when several gate inputs are cached). */
  gateCache?: string;
  /** The label set to train on (as `deriveLabels` returned it); absent = the latest derivation's. */
  labelSet?: string;
  /** Also run k-fold cross-validation over the non-test rows (a fresh model per fold) and report it. */
  crossValidate?: boolean;
  /**
   * Threads to train on (see `resolveThreads`; absent = automatic). It never changes the model, so it
   * is not part of the config, the model id or the lineage event.
   */
  threads?: number;
  /** Called after every epoch of every fit (cross-validation folds first, then the final model). */
  onProgress?: (progress: TrainProgress) => void;
}

/** Where training is: `fit` counts the fits (k folds, then the final model), `epoch` up to `maxEpochs`. */
export interface TrainProgress {
  fit: number;
  fits: number;
  epoch: number;
  /** Early stopping may end a fit before this. */
  maxEpochs: number;
  trainLoss: number;
  valLoss: number;
}

export interface TrainSummary {
  modelId: string;
  modelDir: string;
  weightsSha256: string;
  experts: string[];
  tasks: string[];
  preset: string;
  backend: string;
  trainRows: number;
  valRows: number;
  epochsRun: number;
  bestEpoch: number;
  steps: number;
  trainableParameters: number;
  totalParameters: number;
  studiesWithoutFeatures: number;
  /** The lake snapshot model.json records (that of the model's first training when it was trained before). */
  lakeSnapshot: number | null;
  folds?: Array<{ fold: number; trainRows: number; valRows: number; bestValLoss: number }>;
}

/**
 * Trains the LoRA + MoE heads on the warehouse's cached features and labels and writes
 * models/<modelId>/{model.safetensors, model.json}. The model id hashes config, input hashes and the
 * resulting weights, so the same config, data and code name the same model.
 */
export async function train(options: TrainOptions): Promise<TrainSummary> {
  return withTrainingBackend((info) => trainOn(info.tfBackend, options));
}

async function trainOn(backend: string, options: TrainOptions): Promise<TrainSummary> {
  const config = resolveTrainConfig(options.config);
  checkThreads(options.threads);
  const runId = options.runId ?? newRunId();
  const sources = await resolveFeatureSources(options.warehouse, options.experts, options.gateCache);
  await appendStartEvent(options.warehouse, { runId }, 'train', { config });
  // The lake as training found it when it began reading: commits made later (a concurrent ingest) are not in it.
  const lakeSnapshot = await currentLakeSnapshot(options.warehouse);
  const loaded = await loadWarehouseSet(options.warehouse, sources, options.labelSet);
  validateTrainingSet(loaded.set, warehouseLayout(options.warehouse).labels);
  const { set } = loaded;
  const folds: TrainSummary['folds'] = [];
  const foldIds = options.crossValidate
    ? [...new Set(set.fold.filter((_, row) => set.split[row] !== 'test'))].sort((a, b) => a - b)
    : [];
  let fitNumber = 0;
  const fit = () => {
    const progress = { fit: ++fitNumber, fits: foldIds.length + 1, maxEpochs: config.maxEpochs };
    return {
      threads: options.threads,
      onEpoch: (epoch: EpochRecord) => options.onProgress?.({ ...progress, ...epoch }),
    };
  };
  if (options.crossValidate) {
    for (const fold of foldIds) {
      const rows = foldRows(set, fold);
      const fitted = await fitModel(set, config, rows, fit());
      const bestValLoss = Math.min(...fitted.curve.map((epoch) => epoch.valLoss));
      folds.push({ fold, trainRows: rows.train.length, valRows: rows.val.length, bestValLoss });
      disposeWeights(fitted.weights);
    }
  }
  const rows = { train: rowsOfSplit(set, 'train'), val: rowsOfSplit(set, 'val') };
  const fitted = await fitModel(set, config, rows, fit());
  // The id names what the model was trained on (label file, feature content, not how features were
  // stored) and the weights it came out with: the same config, data and code give the same id, while a
  // code change that alters the weights gets a new id instead of overwriting the former model.
  const labelsSha256 = loaded.inputs.find((input) => input.name === 'labels')?.sha256;
  const weights = encodeWeights(fitted.weights);
  const modelId = `moe-${hashObject({
    config,
    labels: labelsSha256,
    features: loaded.featureDigests,
    weights: weights.sha256,
  }).slice(0, 16)}`;
  const modelDir = join(warehouseLayout(options.warehouse).models, modelId);
  const manifest = await saveCheckpoint(modelDir, weights, {
    modelId,
    config,
    shape: fitted.shape,
    targetScale: fitted.targetScale,
    trainingCurve: fitted.curve,
    bestEpoch: fitted.bestEpoch,
    inputs: loaded.inputs.map(({ name, path, sha256 }) => ({
      name,
      path: warehousePath(options.warehouse, path),
      sha256: sha256 as string,
    })),
    labelSet: loaded.labelSet,
    featureCaches: Object.fromEntries(loaded.sources.map(({ expert, key }) => [expert, key])),
    expertOptions: await expertOptionsOf(loaded.sources),
    backend,
    lineageHead: await readLineageHead(options.warehouse),
    lakeSnapshot,
  });
  disposeWeights(fitted.weights);
  const counts = parameterCounts(fitted.shape);
  await appendLineageEvent(options.warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId },
    job: { name: 'train' },
    inputs: loaded.inputs,
    outputs: [
      {
        name: `models/${modelId}/model.safetensors`,
        path: join(modelDir, 'model.safetensors'),
        sha256: manifest.weightsSha256,
      },
      { name: `models/${modelId}/model.json`, path: join(modelDir, 'model.json') },
    ],
    facets: {
      config,
      seeds: { train: config.seed },
      backend,
      bestEpoch: fitted.bestEpoch,
      trainingCurve: fitted.curve,
      folds,
      lakeSnapshot: manifest.lakeSnapshot ?? null,
    },
  });
  return {
    modelId,
    modelDir,
    weightsSha256: manifest.weightsSha256,
    experts: fitted.shape.experts.map(({ name }) => name),
    tasks: [...config.tasks],
    preset: config.preset,
    backend,
    trainRows: rows.train.length,
    valRows: rows.val.length,
    epochsRun: fitted.curve.length,
    bestEpoch: fitted.bestEpoch,
    steps: fitted.steps,
    trainableParameters: counts.trainable,
    totalParameters: counts.total,
    studiesWithoutFeatures: loaded.studiesWithoutFeatures,
    lakeSnapshot: manifest.lakeSnapshot ?? null,
    ...(options.crossValidate ? { folds } : {}),
  };
}

async function expertOptionsOf(sources: readonly FeatureSource[]): Promise<Record<string, ExpertOptions>> {
  const out: Record<string, ExpertOptions> = {};
  for (const source of sources) {
    const manifest = await readManifest(source.dir);
    if (manifest) out[source.expert] = manifest.expertOptions;
  }
  return out;
}
