import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ConfigError, type LineageEvent, sha256File, warehouseLayout } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ingest,
  listQuarantine,
  listRecords,
  physicalSignal,
  readStoredRecord,
  readWaveforms,
  readWfdbRecord,
} from '../src/index.ts';
import { type BuiltSource, buildMimicSource, checkpkgRecord, seededSignals } from './mimic-source.ts';
import { hasSharedData, missingSharedData } from './shared-data.ts';
import { writeFormat16Record } from './wfdb-writer.ts';

const newWarehouse = () => mkdtemp(join(tmpdir(), 'enecg-ingest-wh-'));

function outcomesOf(
  records: { studyId: number }[],
  quarantine: { studyId: number | null; problem: string }[],
) {
  const outcomes = new Map<number, string>();
  for (const r of records) outcomes.set(r.studyId, 'ingested');
  for (const q of quarantine) outcomes.set(q.studyId!, q.problem);
  return outcomes;
}

describe.skipIf(!hasSharedData)(
  `ingest over real WFDB files (${missingSharedData} otherwise)`,
  { timeout: 60_000 },
  () => {
    let built: BuiltSource;
    beforeAll(async () => {
      built = await buildMimicSource();
    });

    it('ingests good records, quarantines each bad one with its reason, and the counts reconcile', async () => {
      const warehouse = await newWarehouse();
      const progress: number[] = [];
      const summary = await ingest({
        source: built.source,
        warehouse,
        runId: 'run-1',
        batchSize: 4,
        onProgress: ({ done, total }) => progress.push(done / total),
      });
      const expectedQuarantined = [...built.expected.values()].filter((v) => v !== 'ingested').length;
      expect(summary).toMatchObject({ listed: built.expected.size, ingested: 6, unchanged: 0 });
      expect(summary.quarantined).toBe(expectedQuarantined);
      expect(summary.listed).toBe(summary.ingested + summary.unchanged + summary.quarantined);
      expect(progress.at(-1)).toBe(1);

      const records = await listRecords(warehouse);
      const quarantine = await listQuarantine(warehouse);
      expect(outcomesOf(records, quarantine)).toEqual(built.expected);

      const ludb = quarantine.find((q) => q.studyId === 900000001)!;
      expect(ludb).toMatchObject({ record: 'ludb-ecg', field: 'signal file', ingestRunId: 'run-1' });
      expect(ludb.reason).toContain('1.dat');
      expect(quarantine.find((q) => q.studyId === 900000002)!.reason).toMatch(/lead \w+: samples sum to \d+/);

      const first = records.find((r) => r.studyId === 107143276)!;
      expect(first).toMatchObject({
        subjectId: 10000032,
        ecgTime: '2180-07-23 08:44:24',
        samplingRate: 500,
        sampleCount: 5000,
        sourcePath: 'files/p10000032/s107143276/107143276',
        ingestRunId: 'run-1',
        version: 1,
      });
      expect(first.leadNames.slice(4, 6)).toEqual(['aVF', 'aVL']);
      const sourceFiles = join(built.source, first.sourcePath);
      const expectedHash = await sha256Of([`${sourceFiles}.hea`, `${sourceFiles}.dat`]);
      expect(first.contentSha256).toBe(expectedHash);
      expect(records.find((r) => r.studyId === 40689238)!.sourcePath).toBe(
        'files/p1000/p10000032/s40689238/40689238',
      );
    });

    it('stores samples that read back as the reader decodes them from the source (aVL by name)', async () => {
      const warehouse = await newWarehouse();
      await ingest({ source: built.source, warehouse });
      const source = await readWfdbRecord(checkpkgRecord());
      const stored = await readStoredRecord(warehouse, 102511170);
      expect(stored.ecg.leadNames).toEqual(source.header.signals.map((s) => s.description));
      for (const lead of ['I', 'aVF', 'aVL', 'V6']) {
        const index = stored.ecg.leadNames.indexOf(lead);
        expect(Array.from(stored.ecg.signals[index]!)).toEqual(
          Array.from(Float32Array.from(physicalSignal(source, lead))),
        );
      }
      let yielded = 0;
      for await (const batch of readWaveforms({ warehouse, batchSize: 4 })) {
        expect(batch.length).toBeLessThanOrEqual(4);
        for (const record of batch) expect(record.signals).toHaveLength(12);
        yielded += batch.length;
      }
      expect(yielded).toBe(6);
      const chosen = [];
      for await (const batch of readWaveforms({ warehouse, batchSize: 10, studyIds: [40689238, 1] }))
        chosen.push(...batch);
      expect(chosen.map((r) => r.studyId)).toEqual([40689238]);
    });

    it('re-runs write nothing new; a changed record gets a new version; re-listing does not re-quarantine', async () => {
      const built2 = await buildMimicSource();
      const warehouse = await newWarehouse();
      await ingest({ source: built2.source, warehouse, runId: 'first' });
      const partsBefore = await allParts(warehouse);
      const again = await ingest({ source: built2.source, warehouse, runId: 'second' });
      expect(again).toMatchObject({
        ingested: 0,
        unchanged: 6,
        written: { records: 0, waveforms: 0, quarantine: 0 },
      });
      expect(again.listed).toBe(again.ingested + again.unchanged + again.quarantined);
      expect(await allParts(warehouse)).toEqual(partsBefore);

      const changed = 'files/p10000032/s100780919/100780919';
      await writeFormat16Record(join(built2.source, dirname(changed)), '100780919', {
        samplingRate: 500,
        leadNames: ['I', 'II', 'III', 'aVR', 'aVF', 'aVL', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'],
        signals: seededSignals(42),
      });
      const third = await ingest({ source: built2.source, warehouse, runId: 'third' });
      expect(third).toMatchObject({ ingested: 1, unchanged: 5 });
      const [row] = await listRecords(warehouse, { studyIds: [100780919] });
      expect(row).toMatchObject({ version: 2, ingestRunId: 'third', sampleCount: 500 });
      const stored = await readStoredRecord(warehouse, 100780919);
      expect(stored.ecg.signals[0]![0]).toBeCloseTo(seededSignals(42)[0]![0]! / 200, 6);
      expect((await listRecords(warehouse)).length).toBe(6);
    });

    it('shards ingest disjoint studies concurrently into one warehouse and together equal one run', async () => {
      const together = await newWarehouse();
      await ingest({ source: built.source, warehouse: together });
      const sharded = await newWarehouse();
      const summaries = await Promise.all(
        [0, 1, 2].map((index) =>
          ingest({ source: built.source, warehouse: sharded, shard: { index, count: 3 } }),
        ),
      );
      expect(summaries.reduce((n, s) => n + s.listed, 0)).toBe(built.expected.size);
      const strip = (rows: Awaited<ReturnType<typeof listRecords>>) =>
        rows.map(({ studyId, contentSha256 }) => ({ studyId, contentSha256 }));
      expect(strip(await listRecords(sharded))).toEqual(strip(await listRecords(together)));
      // Waveform parts are named by their content and registered in the lake as written.
      for (const name of await readdir(warehouseLayout(sharded).waveforms))
        expect(name).toMatch(/^ingest-[0-9a-f]{24}\.parquet$/);
    });

    it('two clean runs on the same data write byte-identical waveform parts under the same names', async () => {
      const first = await newWarehouse();
      const second = await newWarehouse();
      await ingest({ source: built.source, warehouse: first, runId: 'one', batchSize: 4 });
      await ingest({ source: built.source, warehouse: second, runId: 'two', batchSize: 4 });
      const parts = async (warehouse: string) => {
        const dir = warehouseLayout(warehouse).waveforms;
        const names = (await readdir(dir)).sort();
        return Promise.all(names.map(async (name) => [name, await sha256File(join(dir, name))]));
      };
      expect(await parts(second)).toEqual(await parts(first));
      expect((await parts(first)).length).toBe(2);
    });

    it('resumes an interrupted run under its resume token without duplicating records', async () => {
      const warehouse = await newWarehouse();
      let batches = 0;
      const interrupted = ingest({
        source: built.source,
        warehouse,
        runId: 'interrupted',
        batchSize: 3,
        onProgress: () => {
          if (++batches === 2) throw new Error('worker lost');
        },
      });
      await expect(interrupted).rejects.toThrow('worker lost');
      const committed = (await listRecords(warehouse)).length;
      expect(committed).toBeGreaterThan(0);
      // What a crash between writing a batch's waveform part and committing it leaves behind: a file
      // the lake never registered, which nothing reads.
      const orphan = join(warehouseLayout(warehouse).waveforms, 'ingest-000000000000000000000000.parquet');
      await writeFile(orphan, 'orphan');
      const resumed = await ingest({
        source: built.source,
        warehouse,
        resumeToken: 'interrupted',
        batchSize: 3,
      });
      expect(resumed).toMatchObject({ runId: 'interrupted', ingested: 6, unchanged: 0 });
      const records = await listRecords(warehouse);
      expect(records).toHaveLength(6);
      expect(new Set(records.map((r) => r.ingestRunId))).toEqual(new Set(['interrupted']));
      expect(records.map((r) => r.waveformFile)).not.toContain(basename(orphan));
      let read = 0;
      for await (const batch of readWaveforms({ warehouse, batchSize: 10 })) read += batch.length;
      expect(read).toBe(6);
      // The resumed run's event names the parts its first attempt registered too: every part the lake
      // holds is accounted for, with its hash.
      const event = JSON.parse(await readFile(resumed.lineageEvent, 'utf8')) as LineageEvent;
      const named = event.outputs
        .filter((output) => output.name === 'waveforms')
        .map((output) => basename(output.path));
      expect(named.sort()).toEqual([...new Set(records.map((r) => r.waveformFile))].sort());
      for (const output of event.outputs) {
        expect(output.sha256).toBe(await sha256File(join(warehouse, output.path)));
      }
      const recordRows = event.outputs.filter((o) => o.name === 'records').map((o) => o.rows ?? 0);
      expect(recordRows.reduce((a, b) => a + b, 0)).toBe(6);
    });

    it('appends a lineage event naming the record list and every written part with hashes and rows', async () => {
      const warehouse = await newWarehouse();
      const summary = await ingest({ source: built.source, warehouse, runId: 'lineage' });
      const event = JSON.parse(await readFile(summary.lineageEvent, 'utf8')) as LineageEvent;
      expect(event).toMatchObject({
        eventType: 'COMPLETE',
        job: { name: 'ingest' },
        run: { runId: 'lineage' },
      });
      expect(event.inputs[0]).toMatchObject({
        name: 'record_list',
        sha256: await sha256File(join(built.source, 'record_list.csv')),
      });
      expect(event.outputs.map((o) => o.name).sort()).toEqual(['quarantine', 'records', 'waveforms']);
      // Every output is an immutable data file of the lake (waveform parts as ingest wrote them, catalog
      // and quarantine files as DuckLake wrote them), with its hash.
      for (const output of event.outputs) {
        expect(output.sha256).toBe(await sha256File(join(warehouse, output.path)));
      }
      expect(event.outputs.find((o) => o.name === 'records')!.rows).toBe(6);
    });

    it('refuses bad options before doing anything', async () => {
      const warehouse = await newWarehouse();
      await expect(
        ingest({ source: built.source, warehouse, shard: { index: 3, count: 3 } }),
      ).rejects.toThrow(ConfigError);
      await expect(ingest({ source: built.source, warehouse, batchSize: 0 })).rejects.toThrow(/batchSize/);
      await expect(ingest({ source: join(built.source, 'nope'), warehouse })).rejects.toThrow(/source/);
      expect(await readdir(warehouse)).toEqual([]);
    });
  },
);

async function sha256Of(paths: string[]): Promise<string> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  for (const path of paths) hash.update(await readFile(path));
  return hash.digest('hex');
}

async function allParts(warehouse: string): Promise<string[]> {
  const names: string[] = [];
  const layout = warehouseLayout(warehouse);
  for (const folder of [layout.records, layout.waveforms, layout.quarantine]) {
    for (const name of await readdir(folder).catch(() => [])) names.push(`${folder}/${name}`);
  }
  return names.sort();
}
