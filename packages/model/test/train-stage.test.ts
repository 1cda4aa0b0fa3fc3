import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, queryRows, sha256, sqlString, withDuckDB, withLake } from '@enecg/common';
import { ingest } from '@enecg/ingest';
import { importLabelFile } from '@enecg/labels';
import { generateSynthetic } from '@enecg/synth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvaluateSummary, evaluate } from '../src/evaluate/stage.ts';
import type { EvaluationReport } from '../src/evaluation-types.ts';
import { TASKS } from '../src/evaluation-types.ts';
import type { TrainingSet } from '../src/train/dataset.ts';
import { train } from '../src/train/stage.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

/**
 * Writes the set as the warehouse holds it: a label set in the lake and features/<expert>/<key>/*.parquet, the key
 * ending in `keySuffix` (another configuration's feature sets sit beside the first one's).
 */
async function writeWarehouse(root: string, set: TrainingSet, keySuffix = ''): Promise<void> {
  const staging = join(root, 'staging');
  await mkdir(staging, { recursive: true });
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
        `COPY (SELECT study_id::BIGINT AS study_id, subject_id::BIGINT AS subject_id, rr_interval::DOUBLE AS rr_interval, age::DOUBLE AS age, gender::INTEGER AS gender, flag::INTEGER AS flag, potassium_class::INTEGER AS potassium_class, potassium::DOUBLE AS potassium, report_label::INTEGER AS report_label, report_labels::INTEGER[] AS report_labels, report_source::VARCHAR AS report_source, split, fold::INTEGER AS fold, label_version FROM read_json(${sqlString(join(staging, 'labels.json'))})) TO ${sqlString(join(staging, 'labels.parquet'))} (FORMAT parquet)`,
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
  if (keySuffix === '') await importLabelFile(root, join(staging, 'labels.parquet'));
  await rm(staging, { recursive: true });
}

const EVALUATE_PROCESS = join(import.meta.dirname, 'support', 'evaluate-process.ts');

function evaluateInProcess(modelId: string, runId: string): Promise<EvaluateSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', EVALUATE_PROCESS, warehouse, modelId, runId], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`evaluate ${runId} exited ${code}: ${err}`)),
    );
  });
}

let warehouse: string;

/** The COMPLETE lineage event of a run. */
async function completion(runId: string) {
  const folder = join(warehouse, 'lineage', 'events');
  const events = await Promise.all(
    (await readdir(folder)).map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8'))),
  );
  return events.find((event) => event.run.runId === runId && event.eventType === 'COMPLETE');
}

/** Each run's evaluate event names the stored evaluation, with its hash, as its only output. */
async function expectEventsName(runIds: string[], stored: EvaluateSummary) {
  for (const runId of runIds) {
    expect((await completion(runId)).outputs).toEqual([
      expect.objectContaining({
        path: stored.evaluationPath.slice(warehouse.length + 1),
        sha256: stored.evaluationSha256,
      }),
    ]);
  }
}

describe('train and evaluate stages over a Parquet warehouse', () => {
  const config = { hiddenSize: 16, gate: { length: 32 }, maxEpochs: 3 };
  beforeAll(async () => {
    warehouse = await mkdtemp(join(tmpdir(), 'enecg-train-'));
    await writeWarehouse(warehouse, syntheticTrainingSet({ studies: 300, seed: 9 }));
  }, 60_000);
  afterAll(async () => {
    await rm(warehouse, { recursive: true, force: true });
  });

  it('trains, writes safetensors + model.json, evaluates into a stored evaluation, with lineage', async () => {
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
    expect(evaluation.evaluationPath).toBe(
      join(summary.modelDir, 'evaluations', `test-${evaluation.evaluationKey}.json`),
    );
    const report = JSON.parse(await readFile(evaluation.evaluationPath, 'utf8')) as EvaluationReport;
    expect(report.modelId).toBe(summary.modelId);
    expect(report).toMatchObject({ evaluationKey: evaluation.evaluationKey, replicates: 50, seed: 42 });
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

  it('evaluating again reuses the stored file byte for byte; other settings add another file, never rewrite', async () => {
    const { modelId, modelDir } = await train({ warehouse, config });
    const first = await evaluate({ warehouse, modelId, replicates: 40, runId: 'evaluate-a' });
    const bytes = await readFile(first.evaluationPath);
    const again = await evaluate({ warehouse, modelId, replicates: 40, runId: 'evaluate-b' });
    expect(again).toMatchObject({
      reused: true,
      evaluationPath: first.evaluationPath,
      evaluationSha256: first.evaluationSha256,
    });
    expect(again.tasks).toEqual(first.tasks);
    const other = await evaluate({ warehouse, modelId, replicates: 60, runId: 'evaluate-c' });
    const otherSeed = await evaluate({ warehouse, modelId, replicates: 40, seed: 7, runId: 'evaluate-d' });
    const validation = await evaluate({
      warehouse,
      modelId,
      replicates: 40,
      split: 'val',
      runId: 'evaluate-e',
    });
    const paths = [first, other, otherSeed, validation].map((summary) => summary.evaluationPath);
    expect(new Set(paths).size).toBe(4);
    expect([other, otherSeed, validation].map((summary) => summary.reused)).toEqual([false, false, false]);
    expect(await readFile(first.evaluationPath)).toEqual(bytes);
    const stored = (await readdir(join(modelDir, 'evaluations'))).sort();
    expect(stored).toEqual(
      expect.arrayContaining(paths.map((path) => path.slice(path.lastIndexOf('/') + 1))),
    );
    expect(stored.every((name) => /^(test|val)-[0-9a-f]{16}\.json$/.test(name))).toBe(true);
    expect(JSON.parse(await readFile(other.evaluationPath, 'utf8'))).toMatchObject({
      replicates: 60,
      seed: 42,
    });
    // The reusing run's event names the stored file with its hash, as the first run's does.
    await expectEventsName(['evaluate-a', 'evaluate-b'], first);
    expect((await completion('evaluate-b')).facets).toMatchObject({
      reused: true,
      evaluationKey: first.evaluationKey,
    });
  }, 120_000);

  it('two processes evaluating one model at once store one file, and both runs name it', async () => {
    const { modelId, modelDir } = await train({ warehouse, config });
    const [a, b] = await Promise.all(
      ['overlap-a', 'overlap-b'].map((runId) => evaluateInProcess(modelId, runId)),
    );
    expect(b!.evaluationPath).toBe(a!.evaluationPath);
    expect(b!.evaluationSha256).toBe(a!.evaluationSha256);
    expect(sha256(await readFile(a!.evaluationPath))).toBe(a!.evaluationSha256);
    const stored = await readdir(join(modelDir, 'evaluations'));
    expect(stored.filter((name) => name.includes(a!.evaluationKey))).toEqual([
      `test-${a!.evaluationKey}.json`,
    ]);
    // No temporary file of the process that lost the race stays behind.
    expect(stored.filter((name) => name.includes('.tmp-'))).toEqual([]);
    await expectEventsName(['overlap-a', 'overlap-b'], a!);
  }, 120_000);

  it('same config and data name the same model with byte-identical weights, on one thread or two', async () => {
    const first = await train({ warehouse, config, threads: 1 });
    const second = await train({ warehouse, config, threads: 2 });
    expect(second.modelId).toBe(first.modelId);
    expect(second.weightsSha256).toBe(first.weightsSha256);
    // Trained again, the model keeps the files its first training wrote (lineage events name their hashes).
    const manifest = await readFile(join(first.modelDir, 'model.json'));
    await train({ warehouse, config, threads: 1, runId: 'train-again' });
    expect(await readFile(join(first.modelDir, 'model.json'))).toEqual(manifest);
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

  it('records the lake snapshot training read: time travel shows the records as they were then', async () => {
    const lakeWarehouse = await mkdtemp(join(tmpdir(), 'enecg-train-lake-'));
    try {
      await writeWarehouse(lakeWarehouse, syntheticTrainingSet({ studies: 300, seed: 9 }));
      const source = join(lakeWarehouse, 'source');
      await generateSynthetic({ subjects: 8, outDir: source, seed: 5 });
      const half = (index: number) => ({ source, warehouse: lakeWarehouse, shard: { index, count: 2 } });
      const before = await ingest(half(0));
      const summary = await train({ warehouse: lakeWarehouse, config });
      const manifest = JSON.parse(await readFile(join(summary.modelDir, 'model.json'), 'utf8'));
      expect(manifest.lakeSnapshot).toBe(summary.lakeSnapshot);
      expect(manifest.lakeSnapshot).toBeGreaterThan(0);
      const after = await ingest(half(1));
      expect(after.ingested).toBeGreaterThan(0);
      // What an auditor asks: how many records were there when this model was trained?
      const [counts] = await withLake({ warehouse: lakeWarehouse, readOnly: true }, ({ connection }) =>
        queryRows(
          connection,
          `SELECT (SELECT count(*) FROM lake.records AT (VERSION => ${manifest.lakeSnapshot}))::INTEGER AS at_training,
                  (SELECT count(*) FROM lake.records)::INTEGER AS now`,
        ),
      );
      expect(counts).toEqual({ at_training: before.ingested, now: before.ingested + after.ingested });
      // The same model trained after the second ingest keeps the snapshot of its first training.
      expect((await train({ warehouse: lakeWarehouse, config })).lakeSnapshot).toBe(manifest.lakeSnapshot);
    } finally {
      await rm(lakeWarehouse, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a bad config before work starts, and an unknown expert', async () => {
    await expect(train({ warehouse, config: { batchSize: 0 } })).rejects.toThrow(ConfigError);
    await expect(train({ warehouse, config, threads: 0 })).rejects.toThrow(/threads/);
    await expect(train({ warehouse, experts: ['moment'] })).rejects.toThrow(
      /no cached features for "moment"/,
    );
  });
});
