import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, hashObject, InputError, warehouseLayout, withDuckDB } from '@enecg/common';
import type { ExpertOptions } from '../experts/types.ts';
import { readFeatureMatrix } from './parquet.ts';

/**
 * Feature sets live under features/<expert>/<weights>-<preprocessing>-<options>/ : one folder per (expert,
 * weights hash, preprocessing hash, expert options and seed), holding part-NNNNNN.parquet files keyed by study_id and a feature-set.json
 * manifest. The folder name is the feature set's key; `<expert>/<key>` is its id.
 */
export const MANIFEST_FILE = 'feature-set.json';

export interface FeatureSetManifest {
  featureSetId: string;
  expert: string;
  weightsId: string;
  preprocessingHash: string;
  embeddingSize: number;
  /** The expert's options as given (config and seed), for reading the set back without guessing. */
  expertOptions: { seed: number; config?: Record<string, unknown>; weightsPath?: string };
  /** The embedding's element names, for experts whose elements are named measurements. */
  featureNames?: string[];
}

/** How a feature set's key starts when its expert ran without a checkpoint. */
const RANDOM_INIT_KEY_PREFIX = 'random-init-';

export function shortWeightsId(weightsId: string): string {
  if (weightsId.startsWith('random-init:')) {
    return `${RANDOM_INIT_KEY_PREFIX}${weightsId.slice('random-init:'.length)}`;
  }
  return weightsId.slice(0, 12);
}

/** Whether a feature set's key says its expert ran without a checkpoint (random initialisation). */
export function isRandomInitFeatureSet(key: string): boolean {
  return key.startsWith(RANDOM_INIT_KEY_PREFIX);
}

/** Whether a feature set's key says its expert has no weights at all (e.g. classical measurements). */
export function isWeightlessFeatureSet(key: string): boolean {
  return key.startsWith(`${shortWeightsId('none')}-`);
}

/**
 * A feature set's key names everything that determines its values: the weights, the preprocessing, and the
 * expert's options (its config and seed; the weights path is not, the weights hash is). Two configurations
 * of one expert therefore cache side by side, and training names the exact set its config implies.
 */
export function featureSetKey(
  weightsId: string,
  preprocessingHash: string,
  options: Pick<ExpertOptions, 'seed' | 'config'>,
): string {
  const optionsHash = hashObject({ config: options.config ?? null, seed: options.seed }).slice(0, 8);
  return `${shortWeightsId(weightsId)}-${preprocessingHash.slice(0, 12)}-${optionsHash}`;
}

export function featureSetDir(warehouse: string, expert: string, key: string): string {
  return join(warehouseLayout(warehouse).features, expert, key);
}

/** The Parquet files of a folder, sorted (also used for the records catalog). */
export async function listFeatureParts(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((name) => name.endsWith('.parquet'))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

export async function readManifest(dir: string): Promise<FeatureSetManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as FeatureSetManifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`unreadable manifest (${(error as Error).message})`, {
      file: join(dir, MANIFEST_FILE),
    });
  }
}

export type ReadFeaturesOptions =
  | {
      warehouse: string;
      expert: string;
      weightsId: string;
      preprocessingHash: string;
      expertOptions: Pick<ExpertOptions, 'seed' | 'config'>;
    }
  | { warehouse: string; featureSetId: string };

export interface FeatureMatrix {
  featureSetId: string;
  /** Sorted ascending; row i of `matrix` belongs to studyIds[i]. */
  studyIds: number[];
  dim: number;
  /** Row-major [studyIds.length x dim]. */
  matrix: Float32Array;
}

/** Every cached embedding of one feature set, ordered by study_id. */
export async function readFeatures(options: ReadFeaturesOptions): Promise<FeatureMatrix> {
  let expert: string;
  let key: string;
  if ('featureSetId' in options) {
    const parts = options.featureSetId.split('/');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new ConfigError(`${JSON.stringify(options.featureSetId)} is not <expert>/<key>`, 'featureSetId');
    }
    [expert, key] = parts as [string, string];
  } else {
    expert = options.expert;
    key = featureSetKey(options.weightsId, options.preprocessingHash, options.expertOptions);
  }
  const dir = featureSetDir(options.warehouse, expert, key);
  const files = await listFeatureParts(dir);
  if (files.length === 0) {
    throw new InputError('no cached features (run `enecg features` for this expert first)', { file: dir });
  }
  const read = await withDuckDB((connection) => readFeatureMatrix(connection, files, dir));
  return { featureSetId: `${expert}/${key}`, ...read };
}
