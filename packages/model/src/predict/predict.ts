import { type EcgRecord, IntegrityError } from '@enecg/common';
import type { TaskKey } from '../evaluation-types.ts';
import { createExpert } from '../experts/registry.ts';
import type { Expert, ExpertOptions } from '../experts/types.ts';
import { featureSetKey } from '../features/index.ts';
import { ensureTrainingBackend } from '../train/backend.ts';
import { loadCheckpoint, type ModelManifest } from '../train/checkpoint.ts';
import { disposeWeights } from '../train/fit.ts';
import { TASK_SPECS } from '../train/tasks.ts';
import { GATE_INPUT_EXPERT } from '../train/warehouse-set.ts';
import { disposeInferenceModel, type InferenceModel, infer, toInferenceModel } from './infer.ts';
import { readEcgRecord } from './record.ts';

export interface TaskPrediction {
  /** Regression: the value in label units. */
  value?: number;
  /** Classification: the most probable class and every class's probability. */
  class?: number;
  probabilities?: number[];
  /** Each expert's gate weight and its own head's answer. */
  experts: Record<string, { weight: number; value?: number; class?: number }>;
}

export interface PredictResult {
  modelId: string;
  studyId: number;
  predictions: Partial<Record<TaskKey, TaskPrediction>>;
}

/** A loaded model with its frozen experts, reusable across records (what a server would keep). */
export interface Predictor {
  manifest: ModelManifest;
  predict(record: EcgRecord): Promise<PredictResult>;
  dispose(): void;
}

export interface PredictorOptions {
  modelDir: string;
  /** How to build each expert; default: as its feature set was built (model.json), else the model's seed. */
  expertOptions?: Record<string, ExpertOptions>;
}

/**
 * Loads a model and builds the frozen experts it was trained on (the gate input's raw-leads included),
 * refusing an expert whose weights or preprocessing differ from those its cached features came from.
 */
export async function loadPredictor(options: PredictorOptions): Promise<Predictor> {
  await ensureTrainingBackend();
  const { manifest, weights } = await loadCheckpoint(options.modelDir);
  const model: InferenceModel = toInferenceModel(manifest.shape, weights, manifest.targetScale);
  disposeWeights(weights);
  const experts = new Map<string, Expert>();
  try {
    for (const [name, cacheKey] of Object.entries(manifest.featureCaches)) {
      const expertOptions = options.expertOptions?.[name] ??
        manifest.expertOptions?.[name] ?? { seed: manifest.config.seed };
      const expert = await createExpert(name, expertOptions);
      experts.set(name, expert);
      const key = featureSetKey(expert.weightsId, expert.preprocessingHash, expertOptions);
      if (key !== cacheKey) {
        throw new IntegrityError(
          `expert ${name} is built as ${key}, but the model was trained on feature set ${name}/${cacheKey}`,
          options.modelDir,
        );
      }
    }
  } catch (error) {
    for (const expert of experts.values()) expert.dispose();
    disposeInferenceModel(model);
    throw error;
  }
  return {
    manifest,
    async predict(record) {
      const embeddings: Record<string, Float32Array> = {};
      for (const [name, expert] of experts)
        embeddings[name] = (await expert.embed([record]))[0] as Float32Array;
      const gate = embeddings[GATE_INPUT_EXPERT] as Float32Array;
      const predictions = infer(model, { rows: 1, experts: embeddings, gate });
      return {
        modelId: manifest.modelId,
        studyId: record.studyId,
        predictions: describe(model, predictions),
      };
    },
    dispose() {
      for (const expert of experts.values()) expert.dispose();
      disposeInferenceModel(model);
    },
  };
}

/** All task predictions for one record (or WFDB header path), with each expert's gate weight. */
export async function predict(
  options: PredictorOptions & { record: EcgRecord | string },
): Promise<PredictResult> {
  const record = typeof options.record === 'string' ? await readEcgRecord(options.record) : options.record;
  const predictor = await loadPredictor(options);
  try {
    return await predictor.predict(record);
  } finally {
    predictor.dispose();
  }
}

function describe(
  model: InferenceModel,
  predictions: ReturnType<typeof infer>,
): PredictResult['predictions'] {
  const out: PredictResult['predictions'] = {};
  for (const task of model.shape.tasks) {
    const predicted = predictions[task];
    if (!predicted) continue;
    const argmax = (values: Float32Array) => values.indexOf(Math.max(...values));
    const isRegression = TASK_SPECS[task].kind === 'regression';
    const experts = Object.fromEntries(
      model.shape.experts.map(({ name }, e) => {
        const own = predicted.experts[name] as Float32Array;
        const weight = predicted.gateWeights[e] as number;
        return [name, isRegression ? { weight, value: own[0] as number } : { weight, class: argmax(own) }];
      }),
    );
    out[task] = isRegression
      ? { value: predicted.ensemble[0] as number, experts }
      : { class: argmax(predicted.ensemble), probabilities: Array.from(predicted.ensemble), experts };
  }
  return out;
}
