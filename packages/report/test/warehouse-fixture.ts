import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { DatasetRef, LineageEvent } from '@enecg/common';
import {
  appendLineageEvent,
  codeVersion,
  currentLakeSnapshot,
  describeDataset,
  lakeTableExists,
  mulberry32,
  sha256,
  sqlString,
  warehouseLayout,
  withDuckDB,
  withLake,
  writeFileAtomic,
} from '@enecg/common';
import { importLabelFile, labelSetFile } from '@enecg/labels';
import type { EvaluationReport, MetricSet, TaskEvaluation } from '@enecg/model';
import { storeDecision } from '../src/decisions.ts';

export const EXPERTS = ['moment', 'tempo', 'ecgfm', 'dlinear', 'timesnet'];

function metric(
  random: () => number,
  center: number,
  spread: number,
): { value: number; lo: number; hi: number } {
  const value = center + (random() - 0.5) * spread;
  const half = spread * (0.15 + random() * 0.1);
  return { value, lo: value - half, hi: value + half };
}

function regressionSet(random: () => number, mae: number): MetricSet {
  const m = metric(random, mae, mae * 0.2);
  return { mae: m, mse: metric(random, (m.value * 1.3) ** 2, m.value ** 2 * 0.3) };
}

function classificationSet(random: () => number, accuracy: number): MetricSet {
  const set: MetricSet = {};
  for (const [name, offset] of [
    ['accuracy', 0],
    ['precision', -0.04],
    ['recall', -0.06],
    ['f1', -0.05],
    ['auroc', 0.08],
  ] as const) {
    set[name] = metric(random, Math.min(0.99, accuracy + offset), 0.06);
  }
  return set;
}

function gateWeights(random: () => number): Record<string, number> {
  const raw = EXPERTS.map(() => 0.2 + random());
  const total = raw.reduce((a, b) => a + b, 0);
  return Object.fromEntries(EXPERTS.map((expert, index) => [expert, raw[index]! / total]));
}

function regressionTask(random: () => number, mean: number, sd: number, mae: number): TaskEvaluation {
  const scatter = Array.from({ length: 150 }, () => {
    const y = mean + (random() + random() + random() - 1.5) * sd * 1.6;
    return { y, yhat: y * 0.6 + mean * 0.4 + (random() - 0.5) * mae * 2 };
  });
  return {
    kind: 'regression',
    n: 150,
    ensemble: regressionSet(random, mae),
    experts: Object.fromEntries(EXPERTS.map((expert) => [expert, regressionSet(random, mae * 1.15)])),
    baseline: regressionSet(random, mae * 1.5),
    versusBaseline: {
      metric: 'mae',
      difference: { value: -mae / 2, lo: -mae * 0.7, hi: -mae * 0.3 },
      verdict: 'better',
    },
    versusBestExpert: {
      expert: EXPERTS[0] as string,
      metric: 'mae',
      difference: { value: -2, lo: -5, hi: 1 },
      verdict: 'inconclusive',
    },
    scatter,
    gateWeightMean: gateWeights(random),
    gateWeightsByGroup: Object.fromEntries(['Q1', 'Q2', 'Q3', 'Q4'].map((q) => [q, gateWeights(random)])),
  };
}

function classificationTask(random: () => number, classes: number, accuracy: number): TaskEvaluation {
  const confusion = Array.from({ length: classes }, (_, i) =>
    Array.from({ length: classes }, (_, j) => Math.floor(random() * (i === j ? 40 : 6))),
  );
  return {
    kind: classes === 2 ? 'binary' : 'multiclass',
    n: confusion.flat().reduce((a, b) => a + b, 0),
    ensemble: classificationSet(random, accuracy),
    experts: Object.fromEntries(
      EXPERTS.map((expert) => [expert, classificationSet(random, accuracy - 0.05)]),
    ),
    baseline: classificationSet(random, accuracy - 0.15),
    versusBaseline: {
      metric: 'auroc',
      difference: { value: 0.03, lo: -0.01, hi: 0.07 },
      verdict: 'inconclusive',
    },
    confusion,
    gateWeightMean: gateWeights(random),
    gateWeightsByGroup: Object.fromEntries(
      Array.from({ length: classes }, (_, c) => [String(c), gateWeights(random)]),
    ),
  };
}

/** The key `evaluate` would name the fixture's evaluation by (any 16 hex digits do). */
export function evaluationKeyFixture(seed: number): string {
  return sha256(`evaluation-${seed}`).slice(0, 16);
}

/** An evaluation as `evaluate` stores it: all five tasks, five experts, a 5-epoch curve. */
export function evaluationFixture(modelId: string, runId: string, seed: number): EvaluationReport {
  const random = mulberry32(seed);
  return {
    modelId,
    runId,
    split: 'test',
    evaluationKey: evaluationKeyFixture(seed),
    replicates: 1000,
    seed,
    experts: EXPERTS,
    tasks: {
      rr_interval: regressionTask(random, 850, 160, 78),
      age: regressionTask(random, 62, 16, 12.8),
      gender: classificationTask(random, 2, 0.7),
      flag: classificationTask(random, 2, 0.62),
      report_label: classificationTask(random, 15, 0.74),
    },
    trainingCurve: Array.from({ length: 5 }, (_, epoch) => ({
      epoch: epoch + 1,
      trainLoss: 2.4 * Math.exp(-0.35 * epoch) + random() * 0.05,
      valLoss: 2.5 * Math.exp(-0.28 * epoch) + 0.1 + random() * 0.05,
    })),
    trainableParameters: 412_357,
    totalParameters: 128_734_208,
    randomInitExperts: ['timesnet'],
    keptEpoch: 4,
  };
}

export const LABEL_SQL = `-- rules-v1: potassium within 6 h of the ECG
SELECT e.study_id, e.subject_id, NULLIF(m.rr_interval, 29999) AS rr_interval FROM record_list e
JOIN machine_measurements m USING (study_id)`;

export interface WarehouseFixture {
  warehouse: string;
  rawRoot: string;
  pipelineRunId: string;
  modelId: string;
  runIds: Record<'ingest' | 'labels' | 'features' | 'train' | 'evaluate', string>;
  /** The label set's data file, relative to the warehouse. */
  labelFile: string;
  studyIds: number[];
  quarantinedStudyId: number;
  /** The stored test evaluation, relative to the warehouse (models/<id>/evaluations/test-<key>.json). */
  evaluationFile: string;
}

/** Study ids in the v1.0 layout (8 digits), subjects with 8-digit ids, 3 studies per subject. */
function studies(count: number): Array<{ studyId: number; subjectId: number }> {
  return Array.from({ length: count }, (_, index) => ({
    studyId: 40_000_000 + index * 7919,
    subjectId: 10_000_000 + Math.floor(index / 3) * 13,
  }));
}

async function rawRecordFiles(
  rawRoot: string,
  rows: Array<{ studyId: number; subjectId: number }>,
): Promise<void> {
  for (const { studyId, subjectId } of rows) {
    const folder = join(
      rawRoot,
      'files',
      `p${String(subjectId).slice(0, 4)}`,
      `p${subjectId}`,
      `s${studyId}`,
    );
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `${studyId}.hea`), `${studyId} 12 500 5000\n`);
    await writeFile(join(folder, `${studyId}.dat`), Buffer.alloc(64, studyId % 251));
  }
}

/**
 * A warehouse as a full pipeline run leaves it: real Parquet written by DuckDB, lineage events appended
 * by the real `appendLineageEvent`, a stored evaluation, and raw WFDB-named files outside the warehouse.
 */
export interface FixtureOptions {
  seed?: number;
  studyCount?: number;
  /**
   * As the Temporal pipeline does it: every stage appends under the pipeline's own run id, only COMPLETE
   * events, and ingest in two shards. Otherwise each stage is a child run with START and COMPLETE.
   */
  sharedRunId?: boolean;
}

export async function buildWarehouse(root: string, options: FixtureOptions = {}) {
  const seed = options.seed ?? 42;
  const warehouse = join(root, 'warehouse');
  const rawRoot = join(root, 'raw');
  const layout = warehouseLayout(warehouse);
  const rows = studies(options.studyCount ?? 90);
  const quarantined = rows.at(-1)!;
  const kept = rows.slice(0, -1);
  await rawRecordFiles(rawRoot, rows);
  const values = (list: typeof rows) => list.map((row) => `(${row.studyId}, ${row.subjectId})`).join(', ');
  // Pipelines with different seeds get different nominal times, so several can share one warehouse.
  const base = Date.parse('2026-11-20T00:00:00.000Z') + seed * 3_600_000;
  const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
  const pipelineRunId = `pipeline-${seed}`;
  const stageRunId = (job: string) => (options.sharedRunId ? pipelineRunId : `${job}-${seed}`);
  const runIds = {
    ingest: stageRunId('ingest'),
    labels: stageRunId('labels'),
    features: stageRunId('features'),
    train: stageRunId('train'),
    evaluate: stageRunId('evaluate'),
  };
  const modelId = `moe-${seed}`;
  const featureFolder = join(layout.features, 'dlinear', 'w3f9a1-p77c2d0');
  // The rules' output as a file, stored as a label set of the lake below.
  const labelSource = join(root, 'labels-rules-v1.parquet');
  await withDuckDB(async (c) => {
    await c.run(`CREATE TABLE s AS SELECT * FROM (VALUES ${values(kept)}) t(study_id, subject_id)`);
    await mkdir(layout.records, { recursive: true });
    await c.run(
      `COPY (SELECT study_id::BIGINT AS study_id, subject_id::BIGINT AS subject_id,
                    'files/p' || left(subject_id::VARCHAR, 4) || '/p' || subject_id || '/s' || study_id || '/' || study_id AS path,
                    500 AS sampling_rate, 5000 AS n_samples FROM s ORDER BY study_id)
         TO ${sqlString(join(layout.records, 'part-0.parquet'))} (FORMAT parquet)`,
    );
    await mkdir(layout.waveforms, { recursive: true });
    await c.run(
      `COPY (SELECT study_id::BIGINT AS study_id, lead,
                    list_transform(range(250), i -> sin(i / 8.0 + study_id % 7))::FLOAT[] AS signal
               FROM s, (VALUES ('I'), ('II')) l(lead) ORDER BY study_id, lead)
         TO ${sqlString(join(layout.waveforms, 'part-0.parquet'))} (FORMAT parquet)`,
    );
    await mkdir(layout.quarantine, { recursive: true });
    await c.run(
      `COPY (SELECT ${quarantined.studyId}::BIGINT AS study_id, ${quarantined.subjectId}::BIGINT AS subject_id,
                    'files/.../${quarantined.studyId}.hea' AS file, 'n_sig' AS field,
                    'header declares 12 signals, found 11' AS reason)
         TO ${sqlString(join(layout.quarantine, 'part-0.parquet'))} (FORMAT parquet)`,
    );
    await c.run(
      `COPY (SELECT study_id::BIGINT AS study_id, subject_id::BIGINT AS subject_id,
                    CASE WHEN hash(study_id, 'rr') % 10 = 0 THEN NULL ELSE 600 + hash(study_id, 'rr') % 600 END::DOUBLE AS rr_interval,
                    (18 + hash(study_id, 'age') % 74)::DOUBLE AS age,
                    (hash(subject_id, 'sex') % 2)::INTEGER AS gender,
                    CASE WHEN hash(study_id, 'k') % 3 = 0 THEN NULL ELSE (hash(study_id, 'flag') % 4 = 0)::INTEGER END AS flag,
                    CASE WHEN hash(study_id, 'k') % 3 = 0 THEN NULL ELSE (hash(study_id, 'kc') % 3)::INTEGER END AS potassium_class,
                    (hash(study_id, 'rl') % 15)::INTEGER AS report_label,
                    CASE hash(subject_id, 'split') % 10 WHEN 0 THEN 'test' WHEN 1 THEN 'val' WHEN 2 THEN 'test' ELSE 'train' END AS split,
                    (hash(subject_id, 'fold') % 3)::INTEGER AS fold,
                    'rules-v1' AS label_version
               FROM s ORDER BY study_id)
         TO ${sqlString(labelSource)} (FORMAT parquet)`,
    );
    await mkdir(featureFolder, { recursive: true });
    await c.run(
      `COPY (SELECT study_id::BIGINT AS study_id,
                    list_transform(range(16), i -> ((study_id * 31 + i) % 17) / 17.0)::FLOAT[] AS embedding
               FROM s ORDER BY study_id)
         TO ${sqlString(join(featureFolder, 'part-0.parquet'))} (FORMAT parquet)`,
    );
  });
  // The ingest tables live in the warehouse's lake: their files are registered as they are. Every run of
  // the fixture ingests the same bytes, so a later run finds them stored and adds nothing.
  await withLake({ warehouse }, (lake) =>
    lake.transaction('fixture tables', async (c) => {
      for (const folder of [layout.records, layout.waveforms, layout.quarantine]) {
        const file = join(folder, 'part-0.parquet');
        const table = basename(folder);
        if (await lakeTableExists(c, table)) continue;
        await c.run(`CREATE TABLE ${table} AS SELECT * FROM read_parquet(${sqlString(file)}) LIMIT 0`);
        await c.run(`CALL ducklake_add_data_files('lake', ${sqlString(table)}, ${sqlString(file)})`);
      }
    }),
  );
  const { labelSet } = await importLabelFile(warehouse, labelSource);
  const labelFile = labelSetFile(warehouse, labelSet);
  const modelFolder = join(layout.models, modelId);
  await writeFileAtomic(join(modelFolder, 'model.safetensors'), Buffer.alloc(4096, seed % 256));
  await writeFileAtomic(
    join(modelFolder, 'model.json'),
    `${JSON.stringify({ modelId, lr: 1e-4, epochs: 5, lakeSnapshot: await currentLakeSnapshot(warehouse) })}\n`,
  );
  const evaluationFile = `models/${modelId}/evaluations/test-${evaluationKeyFixture(seed)}.json`;
  await writeFileAtomic(
    join(warehouse, evaluationFile),
    `${JSON.stringify(evaluationFixture(modelId, runIds.evaluate, seed), null, 2)}\n`,
  );

  const code = await codeVersion();
  const rawFiles = await describeDataset('mimic-iv-ecg/files', join(rawRoot, 'files'));
  const part = (folder: string) => join(folder, 'part-0.parquet');
  const records = await describeDataset('records', part(layout.records), kept.length);
  const waveforms = await describeDataset('waveforms', part(layout.waveforms), kept.length * 2);
  const quarantine = await describeDataset('quarantine', part(layout.quarantine), 1);
  const labels = await describeDataset('labels', labelFile, kept.length);
  const features = await describeDataset('features/dlinear', featureFolder, kept.length);
  const weights = await describeDataset('model/weights', join(modelFolder, 'model.safetensors'));
  const modelJson = await describeDataset('model/config', join(modelFolder, 'model.json'));
  const evaluation = await describeDataset(
    `models/${modelId}/evaluations/test`,
    join(warehouse, evaluationFile),
  );
  const stage = async (
    job: keyof typeof runIds,
    minute: number,
    inputs: DatasetRef[],
    outputs: DatasetRef[],
    facets: LineageEvent['facets'],
  ) => {
    const run = options.sharedRunId
      ? { runId: pipelineRunId, nominalTime: at(0) }
      : { runId: runIds[job], parentRunId: pipelineRunId, nominalTime: at(0) };
    if (!options.sharedRunId) {
      await appendLineageEvent(warehouse, {
        eventType: 'START',
        eventTime: at(minute),
        run,
        job: { name: job },
        inputs,
        outputs: [],
        facets: {},
      });
    }
    await appendLineageEvent(warehouse, {
      eventType: 'COMPLETE',
      eventTime: at(minute + 1),
      run,
      job: { name: job },
      inputs,
      outputs,
      facets: { codeVersion: code, ...facets },
    });
  };
  await appendLineageEvent(warehouse, {
    eventType: 'START',
    eventTime: at(0),
    run: { runId: pipelineRunId, nominalTime: at(0) },
    job: { name: 'pipeline' },
    inputs: [],
    outputs: [],
    facets: { codeVersion: code, config: { seed } },
  });
  if (options.sharedRunId) {
    await stage('ingest', 1, [rawFiles], [records], {
      config: { chunkSize: 256 },
      shard: { index: 0, count: 2 },
    });
    await stage('ingest', 1.5, [rawFiles], [waveforms, quarantine], {
      config: { chunkSize: 256 },
      shard: { index: 1, count: 2 },
    });
  } else {
    await stage('ingest', 1, [rawFiles], [records, waveforms, quarantine], { config: { chunkSize: 256 } });
  }
  await stage('labels', 3, [records], [labels], {
    config: { potassiumWindowHours: 6 },
    labelRules: { version: 'rules-v1', sha256: sha256(LABEL_SQL), sql: LABEL_SQL },
  });
  await stage('features', 5, [records, waveforms], [features], {
    backend: { tfBackend: 'cpu' },
    config: { expert: 'dlinear' },
  });
  await stage('train', 7, [labels, features], [weights, modelJson], {
    config: { lr: 1e-4, epochs: 5, batchSize: 16, loraRank: 8 },
    seeds: { split: seed, init: seed + 1, shuffle: seed + 2 },
    backend: 'tfjs-cpu',
  });
  await stage('evaluate', 9, [weights, labels, features], [evaluation], { seeds: { bootstrap: seed } });
  const decisionFile = await storeDecision(warehouse, {
    decidedAt: at(10),
    runId: pipelineRunId,
    champion: null,
    challenger: modelId,
    championAfter: modelId,
    promoted: true,
    verdict: 'first-champion',
    rule: 'paired-bootstrap-v1',
    confidence: 0.95,
    reason: 'no champion yet',
    split: { name: 'val', sha256: sha256(`split-${seed}`) },
    perTask: [],
  });
  await appendLineageEvent(warehouse, {
    eventType: 'COMPLETE',
    eventTime: at(10),
    run: { runId: pipelineRunId, nominalTime: at(0) },
    job: { name: 'promote' },
    inputs: [],
    outputs: [await describeDataset('promotion/decision', decisionFile)],
    facets: {},
  });
  await appendLineageEvent(warehouse, {
    eventType: 'COMPLETE',
    eventTime: at(11),
    run: { runId: pipelineRunId, nominalTime: at(0) },
    job: { name: 'pipeline' },
    inputs: [],
    outputs: [],
    facets: {},
  });
  return {
    warehouse,
    rawRoot,
    pipelineRunId,
    modelId,
    runIds,
    labelFile: relative(warehouse, labelFile),
    studyIds: kept.map((row) => row.studyId),
    quarantinedStudyId: quarantined.studyId,
    evaluationFile,
  } satisfies WarehouseFixture;
}
