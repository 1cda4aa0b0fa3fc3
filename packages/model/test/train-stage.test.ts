import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, sqlString, withDuckDB } from '@enecg/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../src/evaluate/stage.ts';
import type { EvaluationReport } from '../src/evaluation-types.ts';
import { TASKS } from '../src/evaluation-types.ts';
import type { TrainingSet } from '../src/train/dataset.ts';
import { train } from '../src/train/stage.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

/**
 * Writes the set as the warehouse holds it: labels/*.parquet and features/<expert>/<key>/*.parquet, the key
 * ending in `keySuffix` (another configuration's feature sets sit beside the first one's).
 */
async function writeWarehouse(root: string, set: TrainingSet, keySuffix = ''): Promise<void> {
  const staging = join(root, 'staging');
  await mkdir(staging, { recursive: true });
  await mkdir(join(root, 'labels'), { recursive: true });
  const labelRows = set.studyIds.map((studyId, i) => ({
    study_id: studyId,
    subject_id: set.subjectIds[i],
    ...Object.fromEntries(
      TASKS.map((task) => [task, Number.isFinite(set.labels[task]?.[i]) ? set.labels[task]?.[i] : null]),
    ),
    potassium_class: null,
    potassium: null,
    report_labels: null,
    report_source: null,
    split: set.split[i],
    fold: set.fold[i],
    label_version: 'test-v1',
  }));
  await writeFile(join(staging, 'labels.json'), JSON.stringify(labelRows));
  const caches: Record<string, { dim: number; matrix: Float32Array }> = {
    ...set.expertFeatures,
    'raw-leads': set.gateInput,
  };
  await withDuckDB(async (connection) => {
    // The labels are the same for every configuration: only the first one writes them.
    if (keySuffix === '')
      await connection.run(
        `COPY (SELECT study_id::BIGINT AS study_id, subject_id::BIGINT AS subject_id, rr_interval::DOUBLE AS rr_interval, age::DOUBLE AS age, gender::INTEGER AS gender, flag::INTEGER AS flag, potassium_class::INTEGER AS potassium_class, potassium::DOUBLE AS potassium, report_label::INTEGER AS report_label, report_labels::INTEGER[] AS report_labels, report_source::VARCHAR AS report_source, split, fold::INTEGER AS fold, label_version FROM read_json(${sqlString(join(staging, 'labels.json'))})) TO ${sqlString(join(root, 'labels', 'labels.parquet'))} (FORMAT parquet)`,
      );
    for (const [expert, { dim, matrix }] of Object.entries(caches)) {
      const rows = set.studyIds.map((studyId, i) => ({
        study_id: studyId,
        embedding: Array.from(matrix.subarray(i * dim, (i + 1) * dim)),
      }));
      const json = join(staging, `${expert}.json`);
      await writeFile(json, JSON.stringify(rows));
      const dir = join(root, 'features', expert, `w${expert.length}-p${dim}${keySuffix}`);
      await mkdir(dir, { recursive: true });
      await connection.run(
        `COPY (SELECT study_id::BIGINT AS study_id, embedding::FLOAT[] AS embedding FROM read_json(${sqlString(json)})) TO ${sqlString(join(dir, 'part-0.parquet'))} (FORMAT parquet)`,
      );
    }
  });
  await rm(staging, { recursive: true });
}

describe('train and evaluate stages over a Parquet warehouse', () => {
  let warehouse: string;
  const config = { hiddenSize: 16, gate: { length: 32 }, maxEpochs: 3 };
  beforeAll(async () => {
    warehouse = await mkdtemp(join(tmpdir(), 'enecg-train-'));
    await writeWarehouse(warehouse, syntheticTrainingSet({ studies: 300, seed: 9 }));
  }, 60_000);
  afterAll(async () => {
    await rm(warehouse, { recursive: true, force: true });
  });

  it('trains, writes safetensors + model.json, evaluates into evaluation.json, with lineage', async () => {
    const summary = await train({ warehouse, config, crossValidate: true, runId: 'run-1' });
    expect(summary.experts).toEqual(['alpha', 'beta', 'noise']);
    expect(summary.folds?.map((fold) => fold.fold)).toEqual([0, 1, 2]);
    expect(summary.trainRows + summary.valRows).toBeLessThan(300);
    const files = await readdir(summary.modelDir);
    expect(files.sort()).toEqual(['model.json', 'model.safetensors']);
    const manifest = JSON.parse(await readFile(join(summary.modelDir, 'model.json'), 'utf8'));
    expect(manifest.inputs.map((input: { name: string }) => input.name)).toContain('features/raw-leads');
    expect(manifest.config.seed).toBe(42);

    const evaluation = await evaluate({
      warehouse,
      modelId: summary.modelId,
      replicates: 50,
      runId: 'run-1',
    });
    const report = JSON.parse(await readFile(evaluation.evaluationPath, 'utf8')) as EvaluationReport;
    expect(report.modelId).toBe(summary.modelId);
    expect(Object.keys(report.tasks).sort()).toEqual([...TASKS].sort());
    expect(report.trainableParameters).toBe(summary.trainableParameters);
    expect(report.trainingCurve).toHaveLength(summary.epochsRun);
    expect(report.randomInitExperts).toEqual([]);

    const folder = join(warehouse, 'lineage', 'events');
    const events = await Promise.all(
      (await readdir(folder)).map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8'))),
    );
    const completed = (job: string) =>
      events.filter((event) => event.job.name === job && event.eventType === 'COMPLETE');
    expect(completed('train')).toHaveLength(1);
    expect(completed('evaluate')).toHaveLength(1);
  }, 120_000);

  it('same config and data name the same model with byte-identical weights, on one thread or two', async () => {
    const first = await train({ warehouse, config, threads: 1 });
    const second = await train({ warehouse, config, threads: 2 });
    expect(second.modelId).toBe(first.modelId);
    expect(second.weightsSha256).toBe(first.weightsSha256);
    const other = await train({ warehouse, config: { ...config, preset: 'faithful' } });
    expect(other.modelId).not.toBe(first.modelId);
  }, 120_000);

  it('two configurations side by side: each trains on the exact feature sets it names', async () => {
    const shared = await mkdtemp(join(tmpdir(), 'enecg-train-two-configs-'));
    try {
      await writeWarehouse(shared, syntheticTrainingSet({ studies: 300, seed: 9 }));
      const keysOf = async (suffix: string) => {
        const experts: string[] = [];
        let gateCache = '';
        for (const expert of (await readdir(join(shared, 'features'))).sort()) {
          const key = (await readdir(join(shared, 'features', expert))).find((name) =>
            suffix === '' ? !name.endsWith('-b') : name.endsWith(suffix),
          )!;
          if (expert === 'raw-leads') gateCache = key;
          else experts.push(`${expert}/${key}`);
        }
        return { experts, gateCache };
      };
      const alone = await train({ warehouse: shared, config, ...(await keysOf('')) });
      // A second configuration (another expert seed, say) caches its own sets of the same experts.
      await writeWarehouse(shared, syntheticTrainingSet({ studies: 300, seed: 10 }), '-b');
      const first = await train({ warehouse: shared, config, ...(await keysOf('')) });
      const second = await train({ warehouse: shared, config, ...(await keysOf('-b')) });
      expect(first.modelId).toBe(alone.modelId);
      expect(first.weightsSha256).toBe(alone.weightsSha256);
      expect(second.modelId).not.toBe(first.modelId);
      // Naming only the expert is ambiguous now, and says which sets there are.
      await expect(train({ warehouse: shared, config })).rejects.toThrow(/choose one of the caches/);
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  }, 180_000);

  it('refuses a bad config before work starts, and an unknown expert', async () => {
    await expect(train({ warehouse, config: { batchSize: 0 } })).rejects.toThrow(ConfigError);
    await expect(train({ warehouse, config, threads: 0 })).rejects.toThrow(/threads/);
    await expect(train({ warehouse, experts: ['moment'] })).rejects.toThrow(
      /no cached features for "moment"/,
    );
  });
});
