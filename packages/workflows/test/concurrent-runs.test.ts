import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  duckdbExtensionPath,
  LAKE,
  queryRows,
  sha256File,
  sqlString,
  warehouseLayout,
  withDuckDB,
  withLake,
} from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type PipelineResult, runPipelineLocally, validatePipelineConfig } from '../src/index.ts';

const haveExtensions = existsSync(duckdbExtensionPath('ducklake'));
if (!haveExtensions)
  console.warn('concurrent run tests skipped: run `npx enecg setup` for the DuckDB extensions');

/** Rows and distinct studies of every table the runs wrote, per label set and per feature set. */
async function tableCounts(warehouse: string) {
  const lake = await withLake({ warehouse, readOnly: true }, async ({ connection }) => {
    // `rows` against `studies` (and, for waveforms, one row per lead of a study): nothing stored twice.
    const count = (table: string, by: string, row = 'study_id') =>
      queryRows(
        connection,
        `SELECT ${by} AS key, count(*)::INTEGER AS rows, count(DISTINCT ${row})::INTEGER AS distinct_rows,
                count(DISTINCT study_id)::INTEGER AS studies
           FROM ${LAKE}.${table} GROUP BY ALL ORDER BY ALL`,
      );
    return {
      records: await count('records', "'records'"),
      waveforms: await count('waveforms', "'waveforms'", '(study_id, lead_index)'),
      labels: await count('labels', 'label_set'),
    };
  });
  const features: Record<string, unknown>[] = [];
  const root = warehouseLayout(warehouse).features;
  for (const expert of (await readdir(root)).sort()) {
    for (const key of (await readdir(join(root, expert))).sort()) {
      const [row] = await withDuckDB((c) =>
        queryRows(
          c,
          `SELECT count(*)::INTEGER AS rows, count(DISTINCT study_id)::INTEGER AS studies
             FROM read_parquet(${sqlString(join(root, expert, key, '*.parquet'))})`,
        ),
      );
      features.push({ key: `${expert}/${key}`, ...row });
    }
  }
  return { ...lake, features };
}

const weights = (result: PipelineResult) => readFile(join(result.model.modelDir, 'model.safetensors'));

/**
 * sha256 of every data file whose bytes depend only on the data and the config, by path in the warehouse:
 * waveform parts, label sets, feature parts and manifests. (The lake's catalog rows carry run ids.)
 */
async function dataFiles(warehouse: string): Promise<Record<string, string>> {
  const layout = warehouseLayout(warehouse);
  const files: Record<string, string> = {};
  for (const folder of [layout.waveforms, layout.labels, layout.features]) {
    for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      files[relative(warehouse, path)] = await sha256File(path);
    }
  }
  return files;
}

describe.skipIf(!haveExtensions)('whole runs at once on one warehouse', { timeout: 600_000 }, () => {
  let source: string;
  let root: string;
  const input = (warehouse: string, extra: Record<string, unknown> = {}) =>
    validatePipelineConfig({
      source,
      hosp: join(source, 'hosp'),
      warehouse,
      // The cheapest run that exercises every stage: one expert besides the gate input, small batches so
      // that commits of the concurrent runs interleave, one epoch, the fewest bootstrap replicates.
      ingest: { shards: 2, batchSize: 4 },
      experts: [{ name: 'dlinear' }],
      features: { batchSize: 8, partRows: 8 },
      training: { maxEpochs: 1 },
      evaluation: { replicates: 10 },
      ...extra,
    });

  /** The first configuration run alone on a fresh warehouse: what every other run is compared with. */
  let alone: PipelineResult;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'enecg-concurrent-runs-'));
    source = join(root, 'source');
    await generateSynthetic({ subjects: 10, outDir: source, seed: 11, layout: 'v1' });
    alone = await runPipelineLocally({
      config: input(join(root, 'alone')),
      address: inject('temporalAddress'),
    });
  });

  it("two runs of one config and one of another end with every study once per table and the lone run's model", async () => {
    const address = inject('temporalAddress');
    const shared = join(root, 'shared');
    const other = { seed: 8, labels: { split: { seed: 'other' } } };
    const [a1, a2, b] = await Promise.all([
      runPipelineLocally({ config: input(shared), address }),
      runPipelineLocally({ config: input(shared), address }),
      runPipelineLocally({ config: input(shared, other), address }),
    ]);
    const otherAlone = await runPipelineLocally({ config: input(join(root, 'other-alone'), other), address });

    const stored = alone.ingest.ingested;
    expect(stored).toBeGreaterThan(10);
    const counts = await tableCounts(shared);
    expect(counts.records).toMatchObject([{ rows: stored, distinct_rows: stored, studies: stored }]);
    expect(counts.waveforms).toHaveLength(1);
    expect(counts.waveforms[0]!.rows).toBe(counts.waveforms[0]!.distinct_rows);
    expect(counts.waveforms[0]!.studies).toBe(stored);
    // Two label configurations: two label sets, each with every study once.
    const labelled = alone.labels.rows;
    expect(counts.labels).toHaveLength(2);
    for (const set of counts.labels) expect(set).toMatchObject({ rows: labelled, studies: labelled });
    // dlinear and the gate input, each under two seeds: four feature sets, each with every study once.
    expect(counts.features).toHaveLength(4);
    for (const set of counts.features) expect(set).toMatchObject({ rows: stored, studies: stored });
    const loneCounts = await tableCounts(join(root, 'alone'));
    expect(counts.records).toEqual(loneCounts.records);
    expect(counts.waveforms).toEqual(loneCounts.waveforms);

    // The same model (id and weight bytes) as the run alone, whatever ran beside it.
    for (const run of [a1, a2]) {
      expect(run.model.modelId).toBe(alone.model.modelId);
      expect(Buffer.compare(await weights(run), await weights(alone))).toBe(0);
    }
    expect(b.model.modelId).toBe(otherAlone.model.modelId);
    expect(Buffer.compare(await weights(b), await weights(otherAlone))).toBe(0);
  });

  it('two clean runs on the same data write byte-identical data files and the same model', async () => {
    const again = await runPipelineLocally({
      config: input(join(root, 'again')),
      address: inject('temporalAddress'),
    });
    expect(again.model.modelId).toBe(alone.model.modelId);
    expect(Buffer.compare(await weights(again), await weights(alone))).toBe(0);
    const first = await dataFiles(join(root, 'alone'));
    const second = await dataFiles(join(root, 'again'));
    expect(Object.keys(first).length).toBeGreaterThan(5);
    expect(second).toEqual(first);
  });
});
