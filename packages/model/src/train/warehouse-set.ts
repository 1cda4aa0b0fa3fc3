import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type DatasetRef, InputError, sha256File, warehouseLayout } from '@enecg/common';
import { describeLabelSet, type LabelRow, readLabels } from '@enecg/labels';
import { type FeatureMatrix, listFeatureParts, readFeatures } from '../features/index.ts';
import type { RowMatrix, TrainingSet } from './dataset.ts';

/** The pseudo-expert whose cache holds the gate's input (the sampled raw leads). */
export const GATE_INPUT_EXPERT = 'raw-leads';

export interface FeatureSource {
  expert: string;
  /** `<weightsHash>-<prepHash>` folder under features/<expert>/. */
  key: string;
  dir: string;
  /** Its features feed task heads (every named expert); otherwise it is only the gate's input. */
  feedsHeads: boolean;
}

export interface WarehouseSet {
  set: TrainingSet;
  /** The label set read. */
  labelSet: string;
  sources: FeatureSource[];
  /** Input datasets with content hashes, for model.json and lineage. */
  inputs: DatasetRef[];
  /**
   * sha256 of each feature set's content (sorted study ids and embeddings), independent of how the rows
   * happen to be split into Parquet parts: a resumed cache run gives the same digest as an uninterrupted one.
   */
  featureDigests: Record<string, string>;
  /** Labelled studies dropped because an expert (or the gate input) has no cached features for them. */
  studiesWithoutFeatures: number;
}

/**
 * Picks each expert's feature cache. `experts` may name `expert` or `expert/key`; absent means every
 * cached expert but the gate input. An expert with several caches must be named with its key. The
 * gate input (`raw-leads`, pinned with `gateCache`) is always included; naming `raw-leads` among the
 * experts also feeds the raw leads to task heads.
 */
export async function resolveFeatureSources(
  warehouse: string,
  experts?: readonly string[],
  gateCache?: string,
): Promise<FeatureSource[]> {
  const root = warehouseLayout(warehouse).features;
  const listDirs = async (dir: string) => {
    try {
      return (await readdir(dir, { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  };
  const resolve = async (
    expert: string,
    key: string | undefined,
    feedsHeads: boolean,
  ): Promise<FeatureSource> => {
    const keys = await listDirs(join(root, expert));
    const chosen = key ?? (keys.length === 1 ? keys[0] : undefined);
    if (!chosen || !keys.includes(chosen)) {
      throw new ConfigError(
        keys.length === 0
          ? `no cached features for "${expert}" under ${root}`
          : `choose one of the caches of "${expert}": ${keys.map((k) => `${expert}/${k}`).join(', ')}`,
        'experts',
      );
    }
    return { expert, key: chosen, dir: join(root, expert, chosen), feedsHeads };
  };
  const wanted = experts ?? (await listDirs(root)).filter((name) => name !== GATE_INPUT_EXPERT);
  if (wanted.length === 0) throw new ConfigError(`no cached expert features under ${root}`, 'experts');
  const sources: FeatureSource[] = [];
  for (const entry of wanted) {
    const [expert, key] = entry.split('/') as [string, string | undefined];
    sources.push(await resolve(expert, key, true));
  }
  const gate = sources.find(({ expert }) => expert === GATE_INPUT_EXPERT);
  if (!gate) sources.push(await resolve(GATE_INPUT_EXPERT, gateCache, false));
  else if (gateCache !== undefined && gate.key !== gateCache) {
    throw new ConfigError(`raw-leads feeds both heads and gate, so one cache: ${gateCache}`, 'experts');
  }
  return sources;
}

/**
 * Assembles a training set from a label set (`readLabels`; absent: the latest derivation's) and the
 * feature sets (`readFeatures`).
 */
export async function loadWarehouseSet(
  warehouse: string,
  sources: readonly FeatureSource[],
  labelSet?: string,
): Promise<WarehouseSet> {
  const labels = await describeLabelSet(warehouse, labelSet);
  const labelPath = labels.path;
  const labelRows = await readLabels(warehouse, labels.labelSet);
  const inputs: DatasetRef[] = [
    { name: 'labels', path: labelPath, sha256: labels.sha256, rows: labelRows.length },
  ];
  const features = new Map<string, { matrix: FeatureMatrix; rowOf: Map<number, number> }>();
  const featureDigests: Record<string, string> = {};
  for (const source of sources) {
    const matrix = await readFeatures({ warehouse, featureSetId: `${source.expert}/${source.key}` });
    featureDigests[`${source.expert}/${source.key}`] = featureContentDigest(matrix);
    for (const file of await listFeatureParts(source.dir)) {
      inputs.push({ name: `features/${source.expert}`, path: file, sha256: await sha256File(file) });
    }
    features.set(source.expert, { matrix, rowOf: new Map(matrix.studyIds.map((id, row) => [id, row])) });
  }
  const kept = labelRows.filter((row) => [...features.values()].every(({ rowOf }) => rowOf.has(row.studyId)));
  const seen = new Set<number>();
  for (const row of kept) {
    if (seen.has(row.studyId)) {
      throw new InputError('study appears twice in the labels', {
        file: labelPath,
        record: String(row.studyId),
      });
    }
    seen.add(row.studyId);
  }
  const aligned = (expert: string): RowMatrix => {
    const { matrix, rowOf } = features.get(expert) as { matrix: FeatureMatrix; rowOf: Map<number, number> };
    const { dim } = matrix;
    // Shared memory: training's worker threads read it without a copy.
    const out = new Float32Array(new SharedArrayBuffer(kept.length * dim * 4));
    kept.forEach((row, i) => {
      const from = rowOf.get(row.studyId) as number;
      out.set(matrix.matrix.subarray(from * dim, (from + 1) * dim), i * dim);
    });
    return { dim, matrix: out };
  };
  const expertFeatures: Record<string, RowMatrix> = {};
  for (const { expert, feedsHeads } of sources) if (feedsHeads) expertFeatures[expert] = aligned(expert);
  return {
    set: {
      studyIds: kept.map((row) => row.studyId),
      subjectIds: kept.map((row) => row.subjectId),
      split: kept.map((row) => row.split),
      fold: kept.map((row) => row.fold),
      labels: {
        rr_interval: labelColumn(kept, (row) => row.rrInterval),
        age: labelColumn(kept, (row) => row.age),
        gender: labelColumn(kept, (row) => row.gender),
        flag: labelColumn(kept, (row) => row.flag),
        report_label: labelColumn(kept, (row) => row.reportLabel),
      },
      expertFeatures,
      gateInput: aligned(GATE_INPUT_EXPERT),
    },
    labelSet: labels.labelSet,
    sources: [...sources],
    inputs,
    featureDigests,
    studiesWithoutFeatures: labelRows.length - kept.length,
  };
}

function featureContentDigest(matrix: FeatureMatrix): string {
  const hash = createHash('sha256');
  hash.update(new Uint8Array(Float64Array.from(matrix.studyIds).buffer));
  hash.update(new Uint8Array(matrix.matrix.buffer, matrix.matrix.byteOffset, matrix.matrix.byteLength));
  return hash.digest('hex');
}

function labelColumn(rows: readonly LabelRow[], pick: (row: LabelRow) => number | null): Float64Array {
  return Float64Array.from(rows, (row) => pick(row) ?? Number.NaN);
}
