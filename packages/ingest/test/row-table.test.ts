import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sqlString, withDuckDB } from '@enecg/common';
import type { Table } from 'apache-arrow';
import { tableToIPC } from 'apache-arrow';
import { Compression, Table as ParquetTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { readParquetFile, writeRowTableFile } from '../src/parquet.ts';
import type { RowTableFile } from '../src/parquet-format/row-table.ts';
import {
  type CatalogRow,
  catalogPart,
  catalogTable,
  type QuarantineRow,
  quarantinePart,
  quarantineTable,
} from '../src/tables.ts';

const CATALOG_ROWS: CatalogRow[] = [
  {
    studyId: 40_689_238,
    subjectId: 10_000_032,
    ecgTime: '2180-07-23 08:44:00',
    samplingRate: 500,
    sampleCount: 5000,
    leadNames: ['I', 'II', 'III', 'aVR', 'aVF', 'aVL', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'],
    sourcePath: 'files/p1000/p10000032/s40689238/40689238',
    contentSha256: 'a'.repeat(64),
    ingestRunId: 'run-1',
    version: 1,
    waveformFile: 'part-s0of1-x.parquet',
  },
  {
    studyId: 9_007_199_254_740_991,
    subjectId: -5,
    ecgTime: null,
    samplingRate: 250.5,
    sampleCount: 0,
    leadNames: [],
    sourcePath: 'files/ünïcødé/☃',
    contentSha256: '',
    ingestRunId: 'run-2',
    version: 3,
    waveformFile: 'part-s0of1-y.parquet',
  },
  {
    studyId: 1,
    subjectId: 2,
    ecgTime: 'not a time',
    samplingRate: 1000,
    sampleCount: 10_000,
    leadNames: ['only'],
    sourcePath: 'p',
    contentSha256: 'b'.repeat(64),
    ingestRunId: 'run-2',
    version: 2_147_483_647,
    waveformFile: 'w',
  },
];

const QUARANTINE_ROWS: QuarantineRow[] = [
  {
    sourcePath: 'files/p1/s1/1',
    studyId: 1,
    subjectId: 2,
    file: 'files/p1/s1/1.hea',
    record: '1',
    field: 'signal 0 checksum',
    problem: 'checksum-mismatch',
    reason: 'lead I: samples sum to 3 (mod 65536), header says 4',
    contentSha256: 'c'.repeat(64),
    ingestRunId: 'run-1',
  },
  {
    sourcePath: '../escape',
    studyId: null,
    subjectId: null,
    file: 'record_list.csv',
    record: 'escape',
    field: 'line 3 path',
    problem: 'unsafe-path',
    reason: 'leaves the source',
    contentSha256: null,
    ingestRunId: 'run-1',
  },
];

/** The former write path: Arrow table -> IPC -> parquet-wasm (zstd), kept here as the reference. */
async function writeWithParquetWasm(dir: string, name: string, table: Table): Promise<string> {
  const properties = new WriterPropertiesBuilder()
    .setCreatedBy('enecg-ingest')
    .setCompression(Compression.ZSTD)
    .build();
  const path = join(dir, name);
  await writeFile(path, writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), properties));
  return path;
}

const cases: [string, () => RowTableFile<never>, () => Table, readonly unknown[]][] = [
  ['catalog', catalogPart as () => RowTableFile<never>, () => catalogTable(CATALOG_ROWS), CATALOG_ROWS],
  [
    'quarantine',
    quarantinePart as () => RowTableFile<never>,
    () => quarantineTable(QUARANTINE_ROWS),
    QUARANTINE_ROWS,
  ],
];

describe('catalog and quarantine parts written by the row-table writer', () => {
  for (const [name, part, arrowTable, rows] of cases) {
    it(`${name}: DuckDB sees the same schema and rows as in the former parquet-wasm file`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'enecg-row-table-'));
      const ours = join(dir, 'ours.parquet');
      const written = await writeRowTableFile(ours, part(), rows as never[]);
      expect(written.rows).toBe(rows.length);
      const theirs = await writeWithParquetWasm(dir, 'theirs.parquet', arrowTable());
      await withDuckDB(async (c) => {
        const schema = (path: string) =>
          queryRows(
            c,
            `SELECT name, type, repetition_type, converted_type, logical_type, num_children
             FROM parquet_schema(${sqlString(path)})`,
          );
        expect(await schema(ours)).toEqual(await schema(theirs));
        const describe = (path: string) =>
          queryRows(c, `DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`);
        expect(await describe(ours)).toEqual(await describe(theirs));
        const rowsOf = (path: string) => queryRows(c, `SELECT * FROM read_parquet(${sqlString(path)})`);
        const oursRows = await rowsOf(ours);
        expect(oursRows).toHaveLength(rows.length);
        expect(oursRows).toEqual(await rowsOf(theirs));
        const [difference] = await queryRows(
          c,
          `SELECT count(*) AS n FROM (
             (SELECT * FROM read_parquet(${sqlString(ours)}) EXCEPT ALL SELECT * FROM read_parquet(${sqlString(theirs)}))
             UNION ALL
             (SELECT * FROM read_parquet(${sqlString(theirs)}) EXCEPT ALL SELECT * FROM read_parquet(${sqlString(ours)})))`,
        );
        expect(Number(difference!.n)).toBe(0);
        const stats = await queryRows(
          c,
          `SELECT stats_min_value, stats_max_value FROM parquet_metadata(${sqlString(ours)})
           WHERE path_in_schema = 'study_id'`,
        );
        const ids = (rows as { studyId: number | null }[]).flatMap((r) =>
          r.studyId === null ? [] : [r.studyId],
        );
        expect(stats.map((s) => [Number(s.stats_min_value), Number(s.stats_max_value)])).toEqual([
          [Math.min(...ids), Math.max(...ids)],
        ]);
      });
    });

    it(`${name}: Arrow readers get the former Arrow schema and values back`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'enecg-row-table-'));
      const ours = join(dir, 'ours.parquet');
      await writeRowTableFile(ours, part(), rows as never[]);
      const theirs = await writeWithParquetWasm(dir, 'theirs.parquet', arrowTable());
      const [a, b] = [await readParquetFile(ours), await readParquetFile(theirs)];
      expect(a.schema.fields.map(String)).toEqual(b.schema.fields.map(String));
      // JSON text compares the values, lists included (vectors serialise as arrays), not the objects.
      const json = (table: Table) =>
        JSON.stringify(table.toArray(), (_, v) => (typeof v === 'bigint' ? String(v) : v));
      expect(json(a)).toEqual(json(b));
      expect(a.numRows).toBe(rows.length);
    });
  }
});
