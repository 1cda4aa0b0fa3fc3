import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcgRecord } from '@enecg/common';
import { ConfigError, queryRows, withDuckDB } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { createExpert } from '../src/experts/registry.ts';
import { cacheFeaturesFrom, readFeatures } from '../src/features/index.ts';
import { syntheticRecords } from './support/records.ts';

const records = syntheticRecords(11, 5);

async function* inBatches(
  list: readonly EcgRecord[],
  size: number,
  failAfter?: number,
): AsyncIterable<EcgRecord[]> {
  for (let start = 0, n = 0; start < list.length; start += size, n++) {
    if (failAfter !== undefined && n === failAfter)
      throw new Error('simulated crash while reading waveforms');
    yield list.slice(start, start + size);
  }
}

const warehouse = () => mkdtemp(join(tmpdir(), 'enecg-features-'));
const dlinear = { expert: 'dlinear', backend: 'wasm' as const, expertOptions: { seed: 9 } };

// Generous: the development machines are shared and heavily loaded; nothing here is timed.
describe('cacheFeaturesFrom', { timeout: 60_000 }, () => {
  it('caches every record once, keyed by study_id, with the backend recorded in Parquet and lineage', async () => {
    const root = await warehouse();
    const progress: string[] = [];
    const source = (_cached: unknown, announceTotal: (records: number) => void) => {
      announceTotal(records.length);
      return inBatches(records, 4);
    };
    const summary = await cacheFeaturesFrom(source, {
      warehouse: root,
      ...dlinear,
      batchSize: 3,
      partRows: 5,
      onProgress: (p) => progress.push(`${p.seen}/${p.total}`),
    });
    expect(summary).toMatchObject({
      seen: 11,
      total: 11,
      computed: 11,
      skipped: 0,
      quarantined: 0,
      totalRows: 11,
    });
    expect(summary.weightsId).toBe('random-init:9');
    expect(summary.backend.tfBackend).toBe('wasm');
    expect(summary.parts.map((p) => p.rows)).toEqual([5, 5, 1]);
    expect(summary.dir).toBe(join(root, 'features', 'dlinear', summary.featureSetId.split('/')[1]!));
    expect(progress).toEqual(['4/11', '8/11', '11/11']);

    const features = await readFeatures({ warehouse: root, featureSetId: summary.featureSetId });
    expect(features.studyIds).toEqual(records.map((r) => r.studyId));
    expect(features.dim).toBe(500);
    const expert = await createExpert('dlinear', { seed: 9 });
    const direct = await expert.embed(records.slice(0, 2));
    expect(Array.from(features.matrix.subarray(500, 1000))).toEqual(Array.from(direct[1]!));
    const byKey = await readFeatures({
      warehouse: root,
      expert: 'dlinear',
      weightsId: expert.weightsId,
      preprocessingHash: expert.preprocessingHash,
      expertOptions: { seed: 9 },
    });
    expect(byKey.featureSetId).toBe(summary.featureSetId);
    expert.dispose();

    await withDuckDB(async (connection) => {
      const kv = await queryRows(
        connection,
        `SELECT key::VARCHAR AS k, value::VARCHAR AS v FROM parquet_kv_metadata('${summary.parts[0]!.path}')`,
      );
      expect(Object.fromEntries(kv.map((r) => [r.k, r.v]))).toMatchObject({
        backend: 'wasm',
        feature_set: summary.featureSetId,
      });
      const [row] = await queryRows(
        connection,
        `SELECT expert, weights_id, len(embedding)::INTEGER AS n FROM read_parquet('${summary.parts[0]!.path}') LIMIT 1`,
      );
      expect(row).toEqual({ expert: 'dlinear', weights_id: 'random-init:9', n: 500 });
    });
    const folder = join(root, 'lineage', 'events');
    const events = await Promise.all(
      (await readdir(folder))
        .sort()
        .map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8'))),
    );
    expect(events.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);
    const event = events[1];
    expect(event.job.name).toBe('features/dlinear');
    expect(event.facets.backend).toMatch(/^wasm \(@tensorflow\/tfjs-backend-wasm@/);
    expect(event.facets.backendInfo.package).toBe('@tensorflow/tfjs-backend-wasm');
    expect(event.facets.seeds).toEqual({ expert: 9 });
    // The feature set's manifest and its three parts, relative to the warehouse.
    expect(event.outputs).toHaveLength(4);
    expect(event.outputs[0].path).toBe(`features/${summary.featureSetId}/feature-set.json`);
    expect(event.outputs[1].sha256).toMatch(/^[0-9a-f]{64}$/);

    const again = await cacheFeaturesFrom(() => inBatches(records, 4), { warehouse: root, ...dlinear });
    expect(again).toMatchObject({ computed: 0, skipped: 11, totalRows: 11, parts: [] });
  });

  it('resumes after a crash without recomputing or duplicating, ending with the same features', async () => {
    const root = await warehouse();
    const options = { warehouse: root, ...dlinear, batchSize: 2, partRows: 2 };
    await expect(cacheFeaturesFrom(() => inBatches(records, 3, 2), options)).rejects.toThrow(
      /simulated crash/,
    );
    const expert = await createExpert('dlinear', { seed: 9 });
    const afterCrash = await readFeatures({
      warehouse: root,
      expert: 'dlinear',
      weightsId: expert.weightsId,
      preprocessingHash: expert.preprocessingHash,
      expertOptions: { seed: 9 },
    });
    expert.dispose();
    expect(afterCrash.studyIds.length).toBe(6);
    const folder = join(root, 'lineage', 'events');
    const types = await Promise.all(
      (await readdir(folder)).map(
        async (name) => JSON.parse(await readFile(join(folder, name), 'utf8')).eventType,
      ),
    );
    expect(types).toContain('FAIL');

    const resumed = await cacheFeaturesFrom(() => inBatches(records, 3), options);
    expect(resumed).toMatchObject({ computed: 5, skipped: 6, totalRows: 11 });

    const clean = await warehouse();
    const reference = await cacheFeaturesFrom(() => inBatches(records, 11), {
      ...options,
      warehouse: clean,
      batchSize: 11,
      partRows: 100,
    });
    const a = await readFeatures({ warehouse: root, featureSetId: resumed.featureSetId });
    const b = await readFeatures({ warehouse: clean, featureSetId: reference.featureSetId });
    expect(a.studyIds).toEqual(b.studyIds);
    expect(Array.from(a.matrix)).toEqual(Array.from(b.matrix));
  });

  it("leaves a concurrent writer's temporaries alone and removes those of a writer that is gone", async () => {
    const root = await warehouse();
    const first = await cacheFeaturesFrom(() => inBatches(records, 4), { warehouse: root, ...dlinear });
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const live = join(first.dir, `part-000099.parquet.tmp-${process.pid}-aaaa`);
    const dead = join(first.dir, `part-000099.parquet.tmp-${gone}-bbbb`);
    await writeFile(live, 'being written');
    await writeFile(dead, 'left by a crash');
    await cacheFeaturesFrom(() => inBatches(records, 4), { warehouse: root, ...dlinear });
    expect(existsSync(live)).toBe(true);
    expect(existsSync(dead)).toBe(false);
  });

  it('same records and config give byte-identical parts and manifest', async () => {
    const run = async () => {
      const root = await warehouse();
      const summary = await cacheFeaturesFrom(() => inBatches(records, 4), {
        warehouse: root,
        ...dlinear,
        partRows: 6,
      });
      return Promise.all(
        [...summary.parts.map((p) => p.path), join(summary.dir, 'feature-set.json')].map((f) => readFile(f)),
      );
    };
    const [a, b] = [await run(), await run()];
    expect(a.length).toBe(3);
    expect(a.map((bytes, i) => bytes.equals(b[i]!))).toEqual([true, true, true]);
  });

  it('quarantines a record the expert cannot use and caches the rest', async () => {
    const root = await warehouse();
    const broken: EcgRecord = {
      ...records[3]!,
      studyId: 49999999,
      leadNames: records[3]!.leadNames.map((n) => (n === 'II' ? 'X' : n)),
    };
    const summary = await cacheFeaturesFrom(
      () => inBatches([...records.slice(0, 3), broken, records[4]!], 5),
      {
        warehouse: root,
        expert: 'raw-leads',
        backend: 'wasm',
        expertOptions: { config: { length: 100 } },
      },
    );
    expect(summary).toMatchObject({ computed: 4, quarantined: 1 });
    expect(summary.quarantinedRecords[0]).toMatchObject({ studyId: 49999999 });
    expect(summary.quarantinedRecords[0]!.reason).toMatch(/record 49999999, field lead II/);
  });

  it('features do not depend on the batch size or batch-mates (TimesNet, per-record periods)', async () => {
    const options = {
      expert: 'timesnet',
      backend: 'wasm' as const,
      expertOptions: { seed: 1, config: { dModel: 8, dFf: 8, numKernels: 2 } },
    };
    const one = await cacheFeaturesFrom(() => inBatches(records, 11), {
      ...options,
      warehouse: await warehouse(),
      batchSize: 1,
    });
    const shuffled = [...records].reverse();
    const many = await cacheFeaturesFrom(() => inBatches(shuffled, 11), {
      ...options,
      warehouse: await warehouse(),
      batchSize: 7,
    });
    const a = await readFeatures({
      warehouse: one.dir.split('/features/')[0]!,
      featureSetId: one.featureSetId,
    });
    const b = await readFeatures({
      warehouse: many.dir.split('/features/')[0]!,
      featureSetId: many.featureSetId,
    });
    expect(a.studyIds).toEqual(b.studyIds);
    expect(Array.from(a.matrix)).toEqual(Array.from(b.matrix));
  });

  it('recomputes a record whose content changed and reads back only its new embedding', async () => {
    const root = await warehouse();
    const options = { warehouse: root, ...dlinear, partRows: 4 };
    const first = await cacheFeaturesFrom(() => inBatches(records, 4), options);
    const reversed = records[2]!.signals.map((signal) => signal.slice().reverse());
    const changed: EcgRecord[] = records.map((r, i) => (i === 2 ? { ...r, signals: reversed } : r));
    const second = await cacheFeaturesFrom(() => inBatches(changed, 4), options);
    expect(second).toMatchObject({ seen: 11, computed: 1, recomputed: 1, skipped: 10, totalRows: 11 });

    const features = await readFeatures({ warehouse: root, featureSetId: first.featureSetId });
    expect(features.studyIds).toEqual(records.map((r) => r.studyId));
    const expert = await createExpert('dlinear', { seed: 9 });
    const [fresh] = await expert.embed([changed[2]!]);
    const [stale] = await expert.embed([records[2]!]);
    expert.dispose();
    expect(Array.from(features.matrix.subarray(1000, 1500))).toEqual(Array.from(fresh!));
    expect(Array.from(fresh!)).not.toEqual(Array.from(stale!));

    const again = await cacheFeaturesFrom(() => inBatches(changed, 4), options);
    expect(again).toMatchObject({ computed: 0, skipped: 11, parts: [] });
  });

  it('withdraws a cached embedding when the changed record is quarantined', async () => {
    const root = await warehouse();
    const options = { warehouse: root, expert: 'raw-leads', backend: 'wasm' as const };
    const first = await cacheFeaturesFrom(() => inBatches(records, 4), options);
    const broken: EcgRecord = {
      ...records[3]!,
      leadNames: records[3]!.leadNames.map((n) => (n === 'II' ? 'X' : n)),
    };
    const changed = records.map((r, i) => (i === 3 ? broken : r));
    const second = await cacheFeaturesFrom(() => inBatches(changed, 4), options);
    expect(second).toMatchObject({ computed: 0, quarantined: 1, withdrawn: 1, skipped: 10, totalRows: 10 });
    const features = await readFeatures({ warehouse: root, featureSetId: first.featureSetId });
    expect(features.studyIds).toEqual(records.filter((_, i) => i !== 3).map((r) => r.studyId));

    const third = await cacheFeaturesFrom(() => inBatches(changed, 4), options);
    expect(third).toMatchObject({ computed: 0, quarantined: 1, withdrawn: 0, skipped: 10, parts: [] });
  });

  it('recomputes, once, parts written before content hashes were stored', async () => {
    const root = await warehouse();
    const options = { warehouse: root, ...dlinear };
    const first = await cacheFeaturesFrom(() => inBatches(records, 4), options);
    const part = first.parts[0]!.path;
    await withDuckDB((connection) =>
      connection.run(
        `COPY (SELECT * EXCLUDE (content_sha256) FROM read_parquet('${part}')) TO '${part}.legacy' (FORMAT parquet)`,
      ),
    );
    await rename(`${part}.legacy`, part);
    const before = await readFeatures({ warehouse: root, featureSetId: first.featureSetId });
    expect(before.studyIds).toHaveLength(11);
    const second = await cacheFeaturesFrom(() => inBatches(records, 4), options);
    expect(second).toMatchObject({ computed: 11, recomputed: 11, skipped: 0, totalRows: 11 });
    const after = await readFeatures({ warehouse: root, featureSetId: first.featureSetId });
    expect(after.studyIds).toEqual(before.studyIds);
    expect(Array.from(after.matrix)).toEqual(Array.from(before.matrix));
    const third = await cacheFeaturesFrom(() => inBatches(records, 4), options);
    expect(third).toMatchObject({ computed: 0, skipped: 11 });
  });

  it('refuses bad configuration before doing any work', async () => {
    const root = await warehouse();
    await expect(
      cacheFeaturesFrom(() => inBatches(records, 4), { warehouse: root, expert: 'dlinear', batchSize: 0 }),
    ).rejects.toThrow(ConfigError);
    await expect(
      cacheFeaturesFrom(() => inBatches(records, 4), {
        warehouse: root,
        expert: 'dlinear',
        backend: 'tpu' as never,
      }),
    ).rejects.toThrow(/^backend:/);
    await expect(readdir(root)).resolves.toEqual([]);
  });
});
