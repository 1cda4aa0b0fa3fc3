import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, IntegrityError, type LineageHead, sha256, writeFileOnce } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import type { ExpertOptions } from '../experts/types.ts';
import { decodeSafetensors, encodeSafetensors } from '../safetensors/index.ts';
import type { TrainConfig } from './config.ts';
import type { EpochRecord } from './fit.ts';
import type { ModelShape, TargetScale, Weights } from './model.ts';

export const MODEL_FORMAT = 'enecg-moe-lora/1';

/**
 * model.json: everything needed to rebuild and audit a checkpoint besides the tensors. No run id or
 * time: the same config and data give a byte-identical file (lineage events say which run wrote it).
 */
export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  modelId: string;
  config: TrainConfig;
  shape: ModelShape;
  targetScale: TargetScale;
  trainingCurve: EpochRecord[];
  bestEpoch: number;
  /** Datasets the model was trained on, with content hashes. */
  inputs: Array<{ name: string; path: string; sha256: string }>;
  /** The label set (`@enecg/labels`) it was trained on: evaluation reads the same labels and splits. */
  labelSet?: string;
  /** Each expert's feature set key (`<weights>-<preprocessing>`), gate input included. */
  featureCaches: Record<string, string>;
  /** How each expert was built when its features were cached (from the feature set's manifest). */
  expertOptions?: Record<string, ExpertOptions>;
  weightsFile: string;
  weightsSha256: string;
  /** The TensorFlow.js backend that trained it (e.g. `wasm`). */
  backend: string;
  /**
   * The warehouse's lineage chain head when the model was written: it covers every event that produced the
   * model's inputs, so `lineage verify` catches a rewritten or cut history against it.
   */
  lineageHead?: LineageHead | null;
  /**
   * The warehouse lake's snapshot when training read its inputs (null without a lake): what the lake's tables
   * held then, e.g. `SELECT count(*) FROM lake.records AT (VERSION => lakeSnapshot)`.
   */
  lakeSnapshot?: number | null;
}

/** The weights as model.safetensors bytes (LoRA form: bases and adapters kept apart), with their hash. */
export interface EncodedWeights {
  bytes: Uint8Array;
  sha256: string;
}

export function encodeWeights(weights: Weights): EncodedWeights {
  const tensors = Object.fromEntries(
    Object.entries(weights).map(([name, tensor]) => [
      name,
      { shape: tensor.shape, data: tensor.dataSync() as Float32Array },
    ]),
  );
  const bytes = encodeSafetensors(tensors);
  return { bytes, sha256: sha256(bytes) };
}

/**
 * Writes model.safetensors and model.json into `dir`, each once: the model id covers the weights, so a model
 * trained again (another run, a retry) keeps the files and manifest its first training wrote, which lineage
 * events have named with their hashes. Returns the manifest stored in `dir`.
 */
export async function saveCheckpoint(
  dir: string,
  weights: EncodedWeights,
  manifest: Omit<ModelManifest, 'format' | 'weightsFile' | 'weightsSha256'>,
): Promise<ModelManifest> {
  const full: ModelManifest = {
    format: MODEL_FORMAT,
    ...manifest,
    weightsFile: 'model.safetensors',
    weightsSha256: weights.sha256,
  };
  await writeFileOnce(join(dir, 'model.safetensors'), weights.bytes);
  const manifestPath = join(dir, 'model.json');
  if (await writeFileOnce(manifestPath, `${JSON.stringify(full, null, 2)}\n`)) return full;
  return JSON.parse(await readFile(manifestPath, 'utf8')) as ModelManifest;
}

/** Reads a checkpoint back, checking the weights file against the hash model.json recorded. */
export async function loadCheckpoint(dir: string): Promise<{ manifest: ModelManifest; weights: Weights }> {
  const manifestPath = join(dir, 'model.json');
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read model manifest (${(error as Error).message})`, { file: manifestPath });
  }
  if (manifest.format !== MODEL_FORMAT) {
    throw new InputError(`format "${manifest.format}" is not ${MODEL_FORMAT}`, {
      file: manifestPath,
      field: 'format',
    });
  }
  const weightsPath = join(dir, manifest.weightsFile);
  const bytes = new Uint8Array(await readFile(weightsPath));
  if (sha256(bytes) !== manifest.weightsSha256) {
    throw new IntegrityError('weights differ from the sha256 recorded in model.json', weightsPath);
  }
  const weights: Weights = {};
  for (const [name, { shape, data }] of decodeSafetensors(bytes, weightsPath).tensors) {
    weights[name] = tf.tensor(data, shape);
  }
  return { manifest, weights };
}
