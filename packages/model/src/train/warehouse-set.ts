import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConfigError,
  type DatasetRef,
  InputError,
  queryRows,
  sha256File,
  sqlString,
  warehouseLayout,
  withDuckDB,
} from '@enecg/common';
import { TASKS, type TaskKey } from '../evaluation-types.ts';
import type { FeatureMatrix, Split, TrainingSet } from './dataset.ts';

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
  sources: FeatureSource[];
  /** Input datasets with content hashes, for model.json and lineage. */
  inputs: DatasetRef[];
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

/** Assembles a training set from labels/*.parquet and the feature caches, joined on study_id. */
export async function loadWarehouseSet(
  warehouse: string,
  sources: readonly FeatureSource[],
): Promise<WarehouseSet> {
  const layout = warehouseLayout(warehouse);
  const labelFiles = await parquetFiles(layout.labels);
  if (labelFiles.length === 0) {
    throw new InputError('no labels Parquet files (run the labels stage first)', { file: layout.labels });
  }
  return withDuckDB(async (connection) => {
    const labelRows = await queryRows(
      connection,
      `SELECT study_id, subject_id, ${TASKS.join(', ')}, split, fold FROM read_parquet(${sqlList(labelFiles)}) ORDER BY study_id`,
    );
    const features = new Map<string, { dim: number; rows: Map<number, number[]> }>();
    const inputs: DatasetRef[] = [];
    for (const file of labelFiles)
      inputs.push({ name: 'labels', path: file, sha256: await sha256File(file) });
    for (const source of sources) {
      const files = await parquetFiles(source.dir);
      if (files.length === 0) throw new InputError('no Parquet files', { file: source.dir });
      for (const file of files) {
        inputs.push({ name: `features/${source.expert}`, path: file, sha256: await sha256File(file) });
      }
      const rows = await queryRows(
        connection,
        `SELECT study_id, embedding FROM read_parquet(${sqlList(files)})`,
      );
      const byStudy = new Map<number, number[]>();
      let dim = -1;
      for (const row of rows) {
        const embedding = row.embedding as number[];
        const studyId = Number(row.study_id);
        if (dim === -1) dim = embedding.length;
        if (embedding.length !== dim) {
          throw new InputError(`embedding has ${embedding.length} values, others have ${dim}`, {
            file: source.dir,
            record: String(studyId),
            field: 'embedding',
          });
        }
        byStudy.set(studyId, embedding);
      }
      features.set(source.expert, { dim, rows: byStudy });
    }
    const kept = labelRows.filter((row) =>
      [...features.values()].every(({ rows }) => rows.has(Number(row.study_id))),
    );
    const seen = new Set<number>();
    for (const row of kept) {
      const studyId = Number(row.study_id);
      if (seen.has(studyId)) {
        throw new InputError('study appears twice in the labels', {
          file: layout.labels,
          record: String(studyId),
        });
      }
      seen.add(studyId);
      if (!['train', 'val', 'test'].includes(String(row.split))) {
        throw new InputError(`split "${row.split}" is not train|val|test`, {
          file: layout.labels,
          record: String(studyId),
          field: 'split',
        });
      }
    }
    const matrixOf = (expert: string): FeatureMatrix => {
      const { dim, rows } = features.get(expert) as { dim: number; rows: Map<number, number[]> };
      const matrix = new Float32Array(kept.length * dim);
      kept.forEach((row, i) => {
        matrix.set(rows.get(Number(row.study_id)) as number[], i * dim);
      });
      return { dim, matrix };
    };
    const labels: Partial<Record<TaskKey, Float64Array>> = {};
    for (const task of TASKS) {
      labels[task] = Float64Array.from(kept, (row) => (row[task] === null ? Number.NaN : Number(row[task])));
    }
    const expertFeatures: Record<string, FeatureMatrix> = {};
    for (const { expert } of sources)
      if (expert !== GATE_INPUT_EXPERT) expertFeatures[expert] = matrixOf(expert);
    return {
      set: {
        studyIds: kept.map((row) => Number(row.study_id)),
        subjectIds: kept.map((row) => Number(row.subject_id)),
        split: kept.map((row) => row.split as Split),
        fold: kept.map((row) => Number(row.fold)),
        labels,
        expertFeatures,
        gateInput: matrixOf(GATE_INPUT_EXPERT),
      },
      sources: [...sources],
      inputs,
      studiesWithoutFeatures: labelRows.length - kept.length,
    };
  });
}

async function parquetFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((name) => name.endsWith('.parquet'))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

function sqlList(files: readonly string[]): string {
  return `[${files.map(sqlString).join(', ')}]`;
}
