import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  LAKE,
  lakeExists,
  lakeTableExists,
  queryRows,
  refuseFolderLayout,
  sha256File,
  sqlString,
  withLake,
} from '@enecg/common';
import type { WrittenFile } from './parquet.ts';
import type { CatalogRow, QuarantineRow } from './tables.ts';

/** Which slice of the record list a worker owns: studies whose id modulo `count` is `index`. */
export interface Shard {
  index: number;
  count: number;
}

/** The ingest tables of the warehouse's lake. */
export const RECORDS_TABLE = 'records';
export const WAVEFORMS_TABLE = 'waveforms';
export const QUARANTINE_TABLE = 'quarantine';

/**
 * Runs `work` on a read-only view of the warehouse's lake, or returns `empty` when the warehouse has no
 * lake yet or the lake lacks `table` (nothing ingested): readers never create anything.
 */
export async function readLakeTable<T>(
  warehouse: string,
  table: string,
  empty: T,
  work: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  refuseFolderLayout(warehouse);
  if (!lakeExists(warehouse)) return empty;
  // In a transaction, so that a catalog busy with a writer's commit is waited out rather than fatal.
  return withLake({ warehouse, readOnly: true }, (lake) =>
    lake.transaction(`read ${table}`, async (connection) =>
      (await lakeTableExists(connection, table)) ? work(connection) : empty,
    ),
  );
}

/** The newest version of each study, optionally only one shard's studies. */
function latestRecordsSql(where: string): string {
  return `SELECT * FROM ${LAKE}.${RECORDS_TABLE}
    ${where}
    QUALIFY row_number() OVER (PARTITION BY study_id ORDER BY version DESC) = 1`;
}

const asNumber = (value: unknown) => Number(value);

function toCatalogRow(row: Record<string, unknown>): CatalogRow {
  return {
    studyId: asNumber(row.study_id),
    subjectId: asNumber(row.subject_id),
    ecgTime: (row.ecg_time as string | null) ?? null,
    samplingRate: asNumber(row.sampling_rate),
    sampleCount: asNumber(row.sample_count),
    leadNames: row.lead_names as string[],
    sourcePath: row.source_path as string,
    contentSha256: row.content_sha256 as string,
    ingestRunId: row.ingest_run_id as string,
    version: asNumber(row.version),
    waveformFile: row.waveform_file as string,
  };
}

/**
 * The record catalog: one row per ingested study (its newest version), ordered by study id.
 * `studyIds` narrows it; `shard` keeps one worker's studies.
 */
export async function listRecords(
  warehouse: string,
  filter: { studyIds?: readonly number[]; shard?: Shard } = {},
): Promise<CatalogRow[]> {
  const conditions: string[] = [];
  if (filter.shard) conditions.push(`study_id % ${filter.shard.count} = ${filter.shard.index}`);
  if (filter.studyIds) {
    if (filter.studyIds.length === 0) return [];
    conditions.push(`study_id IN (${filter.studyIds.map((id) => Math.trunc(id)).join(',')})`);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const rows = await readLakeTable(warehouse, RECORDS_TABLE, [], (c) =>
    queryRows(c, `SELECT * FROM (${latestRecordsSql(where)}) ORDER BY study_id`),
  );
  return rows.map(toCatalogRow);
}

/** Every quarantine row written so far, by source path. */
export async function listQuarantine(warehouse: string): Promise<QuarantineRow[]> {
  const rows = await readLakeTable(warehouse, QUARANTINE_TABLE, [], (c) =>
    queryRows(c, `SELECT * FROM ${LAKE}.${QUARANTINE_TABLE} ORDER BY source_path, problem, file`),
  );
  return rows.map((row) => ({
    sourcePath: row.source_path as string,
    studyId: row.study_id === null ? null : asNumber(row.study_id),
    subjectId: row.subject_id === null ? null : asNumber(row.subject_id),
    file: row.file as string,
    record: row.record as string,
    field: row.field as string,
    problem: row.problem as string,
    reason: row.reason as string,
    contentSha256: (row.content_sha256 as string | null) ?? null,
    ingestRunId: row.ingest_run_id as string,
  }));
}

/** The key under which a quarantine verdict is written once: same files, same problem. */
export function quarantineKey(row: Pick<QuarantineRow, 'sourcePath' | 'contentSha256' | 'problem'>): string {
  return `${row.sourcePath}\u0000${row.contentSha256 ?? ''}\u0000${row.problem}`;
}

/** What a shard's worker needs to know before it starts: stored versions and known verdicts. */
export interface ShardState {
  stored: Map<number, { contentSha256: string; version: number; ingestRunId: string }>;
  quarantined: Set<string>;
}

/** Reads a shard's state through the ingest run's own lake connection. */
export async function loadShardState(connection: DuckDBConnection, shard: Shard): Promise<ShardState> {
  const state: ShardState = { stored: new Map(), quarantined: new Set() };
  if (await lakeTableExists(connection, RECORDS_TABLE)) {
    const where = `WHERE study_id % ${shard.count} = ${shard.index}`;
    const rows = await queryRows(
      connection,
      `SELECT study_id, content_sha256, version, ingest_run_id FROM (${latestRecordsSql(where)})`,
    );
    // One string per run id, not one per row: this map holds every study of the shard.
    const runIds = new Map<string, string>();
    for (const row of rows) {
      const runId = row.ingest_run_id as string;
      if (!runIds.has(runId)) runIds.set(runId, runId);
      state.stored.set(asNumber(row.study_id), {
        contentSha256: row.content_sha256 as string,
        version: asNumber(row.version),
        ingestRunId: runIds.get(runId)!,
      });
    }
  }
  if (await lakeTableExists(connection, QUARANTINE_TABLE)) {
    const rows = await queryRows(
      connection,
      `SELECT DISTINCT source_path, content_sha256, problem FROM ${LAKE}.${QUARANTINE_TABLE}`,
    );
    for (const row of rows) {
      state.quarantined.add(
        quarantineKey({
          sourcePath: row.source_path as string,
          contentSha256: (row.content_sha256 as string | null) ?? null,
          problem: row.problem as string,
        }),
      );
    }
  }
  return state;
}

/**
 * What a run (all its attempts: a retried activity, a resume) stored, as the immutable data files that hold
 * its rows: the catalog and quarantine files DuckLake wrote for its commits, and the waveform parts its
 * records point at, each with its hash, so that its lineage event names files that never change.
 */
export async function storedByRun(
  connection: DuckDBConnection,
  waveformsDir: string,
  runId: string,
): Promise<Record<'records' | 'waveforms' | 'quarantine', WrittenFile[]>> {
  const stored = {
    records: [] as WrittenFile[],
    waveforms: [] as WrittenFile[],
    quarantine: [] as WrittenFile[],
  };
  const describe = async (path: string, rows: number): Promise<WrittenFile> => ({
    path,
    sha256: await sha256File(path),
    rows,
    bytes: (await stat(path)).size,
  });
  for (const table of [RECORDS_TABLE, QUARANTINE_TABLE] as const) {
    if (!(await lakeTableExists(connection, table))) continue;
    const files = await queryRows(
      connection,
      `SELECT data_file FROM ducklake_list_files(${sqlString(LAKE)}, ${sqlString(table)})`,
    );
    if (files.length === 0) continue;
    const list = files.map((row) => sqlString(row.data_file as string)).join(', ');
    const rows = await queryRows(
      connection,
      `SELECT filename, count(*)::INTEGER AS n FROM read_parquet([${list}], filename = true)
        WHERE ingest_run_id = ${sqlString(runId)} GROUP BY filename ORDER BY filename`,
    );
    for (const row of rows) stored[table].push(await describe(row.filename as string, Number(row.n)));
  }
  if (await lakeTableExists(connection, RECORDS_TABLE)) {
    const parts = await queryRows(
      connection,
      `SELECT waveform_file, count(*)::INTEGER AS n FROM ${LAKE}.${RECORDS_TABLE}
        WHERE ingest_run_id = ${sqlString(runId)} GROUP BY waveform_file ORDER BY min(study_id)`,
    );
    for (const part of parts) {
      stored.waveforms.push(await describe(join(waveformsDir, part.waveform_file as string), Number(part.n)));
    }
  }
  return stored;
}
