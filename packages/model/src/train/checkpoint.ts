import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, IntegrityError, sha256, writeFileAtomic } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainConfig } from './config.ts';
import type { EpochRecord } from './fit.ts';
import type { ModelShape, TargetScale, Weights } from './model.ts';

export const MODEL_FORMAT = 'enecg-moe-lora/1';

/** model.json: everything needed to rebuild and audit a checkpoint besides the tensors. */
export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  modelId: string;
  runId: string;
  config: TrainConfig;
  shape: ModelShape;
  targetScale: TargetScale;
  trainingCurve: EpochRecord[];
  bestEpoch: number;
  /** Datasets the model was trained on, with content hashes. */
  inputs: Array<{ name: string; path: string; sha256: string }>;
  /** Each expert's feature cache (`<weightsHash>-<prepHash>`), gate input included. */
  featureCaches: Record<string, string>;
  weightsFile: string;
  weightsSha256: string;
  backend: string;
}

/**
 * Safetensors (little-endian u64 header length, JSON header of dtype/shape/data_offsets, raw data).
 * Keys are written sorted, so equal weights give byte-identical files.
 */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors[name] as { shape: number[]; data: Float32Array };
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors[name] as { data: Float32Array };
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    position += data.byteLength;
  }
  return out;
}

export function decodeSafetensors(
  bytes: Uint8Array,
  file: string,
): Record<string, { shape: number[]; data: Float32Array }> {
  if (bytes.length < 8) throw new InputError('shorter than the 8-byte header length', { file });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new InputError('header runs past the end of the file', { file });
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new InputError('header is not JSON', { file });
  }
  const base = 8 + headerLength;
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new InputError(`dtype ${entry.dtype} is not F32`, { file, field: name });
    const [start, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - start !== count * 4 || base + end > bytes.length) {
      throw new InputError(`data_offsets [${start}, ${end}] do not fit shape [${entry.shape}]`, {
        file,
        field: name,
      });
    }
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(base + start, base + end));
    out[name] = { shape: entry.shape, data };
  }
  return out;
}

/** Writes model.safetensors (LoRA form: bases and adapters kept apart) and model.json into `dir`. */
export async function saveCheckpoint(
  dir: string,
  weights: Weights,
  manifest: Omit<ModelManifest, 'format' | 'weightsFile' | 'weightsSha256'>,
): Promise<ModelManifest> {
  const tensors = Object.fromEntries(
    Object.entries(weights).map(([name, tensor]) => [
      name,
      { shape: tensor.shape, data: tensor.dataSync() as Float32Array },
    ]),
  );
  const bytes = encodeSafetensors(tensors);
  const full: ModelManifest = {
    format: MODEL_FORMAT,
    ...manifest,
    weightsFile: 'model.safetensors',
    weightsSha256: sha256(bytes),
  };
  await writeFileAtomic(join(dir, 'model.safetensors'), bytes);
  await writeFileAtomic(join(dir, 'model.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
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
  for (const [name, { shape, data }] of Object.entries(decodeSafetensors(bytes, weightsPath))) {
    weights[name] = tf.tensor(data, shape);
  }
  return { manifest, weights };
}
