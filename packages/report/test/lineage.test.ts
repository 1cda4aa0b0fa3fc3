import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, codeVersion, datasetDigest, describeDataset } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  lineageDiff,
  lineageDownstream,
  lineageUpstream,
  lineageVerify,
  queryCatalog,
  refreshCatalog,
} from '../src/index.ts';
import { runEnecg } from './cli.ts';
import { buildWarehouse, LABEL_SQL, type WarehouseFixture } from './warehouse-fixture.ts';

describe('lineage facets and dataset digests (common)', () => {
  it('codeVersion names the git commit and the lockfile hash of this checkout', async () => {
    const version = await codeVersion();
    expect(version.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(version.lockfileSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof version.gitDirty).toBe('boolean');
    expect(await codeVersion()).toBe(version);
  });

  it('a folder digest changes when any file is altered, added or renamed, and ignores temporary files', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-digest-'));
    const folder = join(warehouse, 'features', 'x');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'a.parquet'), 'first');
    const ref = await describeDataset('features/x', folder, 3);
    expect(ref).toMatchObject({ name: 'features/x', path: folder, rows: 3, bytes: 5 });
    await writeFile(join(folder, 'b.parquet.tmp-1-abcd'), 'half written');
    expect((await datasetDigest(folder)).sha256).toBe(ref.sha256);
    await writeFile(join(folder, 'a.parquet'), 'firsT');
    const altered = (await datasetDigest(folder)).sha256;
    expect(altered).not.toBe(ref.sha256);
    await writeFile(join(folder, 'b.parquet'), '');
    expect((await datasetDigest(folder)).sha256).not.toBe(altered);
  });
});

describe('lineage queries over two pipeline runs in one warehouse', () => {
  let first: WarehouseFixture;
  let second: WarehouseFixture;
  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'enecg-lineage-'));
    first = await buildWarehouse(root, { seed: 42 });
    second = await buildWarehouse(root, { seed: 7 });
  });

  it('upstream of a model: every stage run, its code and rules, back to the raw files', async () => {
    const answer = await lineageUpstream(first.warehouse, first.modelId);
    expect(answer.runs.map((run) => run.runId)).toEqual([
      first.runIds.ingest,
      first.runIds.labels,
      first.runIds.features,
      first.runIds.train,
      first.runIds.evaluate,
    ]);
    const labels = answer.runs.find((run) => run.job === 'labels')!;
    expect(labels.facets.labelRules?.sql).toBe(LABEL_SQL);
    expect(answer.runs.every((run) => /^[0-9a-f]{40}$/.test(run.facets.codeVersion?.gitCommit ?? ''))).toBe(
      true,
    );
    expect(answer.runs.find((run) => run.job === 'train')!.facets.seeds).toEqual({
      split: 42,
      init: 43,
      shuffle: 44,
    });
    expect(answer.rawInputs.map((input) => input.path)).toEqual([join(first.rawRoot, 'files')]);
    expect(answer.datasets.map((d) => d.name).sort()).toEqual(
      ['features/dlinear', 'labels', 'mimic-iv-ecg/files', 'model/weights', 'records', 'waveforms'].sort(),
    );
  });

  it('upstream of an unknown model is a ConfigError naming the key', async () => {
    await expect(lineageUpstream(first.warehouse, 'nope')).rejects.toThrow(ConfigError);
    await expect(lineageUpstream(first.warehouse, 'nope')).rejects.toThrow(/^model: /);
  });

  it('downstream of a record: the files that hold it and every run and model that used it', async () => {
    const studyId = first.studyIds[5]!;
    const answer = await lineageDownstream(first.warehouse, studyId);
    expect(answer.foundIn.map((found) => found.folder).sort()).toEqual([
      'features',
      'labels',
      'records',
      'waveforms',
    ]);
    const label = answer.foundIn.find((found) => found.folder === 'labels')!;
    expect(label.rows).toHaveLength(1);
    expect(label.rows![0]).toMatchObject({ study_id: String(studyId), label_version: 'rules-v1' });
    // Both pipelines ingested the same bytes; the one with the earlier nominal time (seed 7) came first.
    expect(answer.foundIn.find((found) => found.folder === 'records')!.writtenBy).toEqual([
      second.runIds.ingest,
      first.runIds.ingest,
    ]);
    expect(answer.models).toEqual([first.modelId, second.modelId].sort());
    expect(answer.runs.map((run) => run.job)).toContain('train');
  });

  it('downstream of a quarantined record names the quarantine row and the ingest run that wrote it', async () => {
    const answer = await lineageDownstream(first.warehouse, first.quarantinedStudyId);
    expect(answer.foundIn).toHaveLength(1);
    expect(answer.foundIn[0]).toMatchObject({
      folder: 'quarantine',
      writtenBy: [second.runIds.ingest, first.runIds.ingest],
    });
    expect(answer.foundIn[0]!.rows![0]).toMatchObject({ field: 'n_sig' });
    expect(answer.models).toEqual([]);
  });

  it('diff of two runs names changed seeds, config, weights hashes and metrics, and nothing that stayed equal', async () => {
    const diff = await lineageDiff(first.warehouse, first.pipelineRunId, second.pipelineRunId);
    const train = diff.jobs.find((job) => job.job === 'train')!;
    expect(train.facets).toContainEqual({ key: 'seeds.split', a: 42, b: 7 });
    expect(train.outputs.map((change) => change.key)).toContain('model/weights.sha256');
    expect(train.inputs).toEqual([]);
    expect(diff.jobs.find((job) => job.job === 'labels')).toBeUndefined();
    const pipeline = diff.jobs.find((job) => job.job === 'pipeline')!;
    expect(pipeline.facets).toContainEqual({ key: 'config.seed', a: 42, b: 7 });
    const mae = diff.metrics.find(
      (m) => m.task === 'rr_interval' && m.source === 'ensemble' && m.metric === 'mae',
    )!;
    expect(mae.delta).toBeCloseTo(mae.b! - mae.a!, 12);
  });

  it('verify is clean on an untouched warehouse', async () => {
    const answer = await lineageVerify(first.warehouse);
    expect(answer.problems).toEqual([]);
    expect(answer.checked).toBeGreaterThanOrEqual(9);
  });
});

describe('enecg lineage verify', () => {
  it('prints one line per problem naming the event, the file and what differs, and exits 1', async () => {
    const fixture = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-verify-')));
    const clean = await runEnecg(['lineage', 'verify', '--warehouse', fixture.warehouse]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^problems\s+0$/m);
    await appendFile(join(fixture.warehouse, fixture.labelFile), 'x');
    await rm(join(fixture.warehouse, 'models', fixture.modelId, 'model.json'));
    const result = await runEnecg(['lineage', 'verify', '--warehouse', fixture.warehouse]);
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('event '));
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^event \\d{12}\\.json \\(labels run ${fixture.runIds.labels}\\): ${fixture.labelFile.replaceAll('.', '\\.')}: sha256 recorded [0-9a-f]{16}, now [0-9a-f]{16}; size recorded \\d+ bytes, now \\d+$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^event \\d{12}\\.json \\(train run ${fixture.runIds.train}\\): models/${fixture.modelId}/model\\.json: recorded with sha256 [0-9a-f]{16}, the file is gone$`,
        ),
      ),
    ]);
    expect(result.stderr).toContain('2 problem(s)');
  }, 60_000);
});

describe('a pipeline whose stages share its run id (as the Temporal workflow runs them)', () => {
  let first: WarehouseFixture;
  let second: WarehouseFixture;
  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'enecg-shared-run-'));
    first = await buildWarehouse(root, { seed: 42, sharedRunId: true });
    second = await buildWarehouse(root, { seed: 7, sharedRunId: true });
    await refreshCatalog(first.warehouse);
  }, 60_000);

  it('the runs view has one row per run and job, the ingest shards counted once', async () => {
    const rows = await queryCatalog(
      first.warehouse,
      // In chain order: stages of the fixture can start within the same millisecond, so started_at ties.
      `SELECT job, status FROM runs
         JOIN (SELECT run_id, job, min(sequence) AS first_event FROM lineage_events GROUP BY ALL) USING (run_id, job)
        WHERE run_id = '${first.pipelineRunId}' ORDER BY first_event`,
    );
    expect(rows).toEqual(
      ['pipeline', 'ingest', 'labels', 'features', 'train', 'evaluate', 'promote'].map((job) => ({
        job,
        status: 'COMPLETE',
      })),
    );
  });

  it('upstream and diff work per job; the diff adds up the outputs of ingest shards', async () => {
    const upstream = await lineageUpstream(first.warehouse, first.modelId);
    expect(upstream.runs.map((run) => run.job)).toEqual([
      'ingest',
      'ingest',
      'labels',
      'features',
      'train',
      'evaluate',
    ]);
    const diff = await lineageDiff(first.warehouse, second.pipelineRunId, first.pipelineRunId);
    expect(diff.jobs.find((job) => job.job === 'ingest')).toBeUndefined();
    expect(diff.jobs.find((job) => job.job === 'train')!.facets).toContainEqual({
      key: 'seeds.split',
      a: 7,
      b: 42,
    });
  });
});
