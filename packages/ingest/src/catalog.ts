import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { queryRows, sha256File, sqlString, warehouseLayout, withDuckDB } from '@enecg/common';
import type { WrittenFile } from './parquet.ts';
import type { CatalogRow, QuarantineRow } from './tables.ts';

/** Which slice of the record list a worker owns: studies whose id modulo `count` is `index`. */
export interface Shard {
  index: number;
  count: number;
}

/** Completed Parquet parts of a warehouse folder (temporary files of running writers excluded). */
export async function parquetParts(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names.filter((name) => name.endsWith('.parquet')).sort();
}

/** The newest version of each study in `records/`, optionally only one shard's studies. */
function latestRecordsSql(recordsFolder: string, where: string): string {
  return `SELECT * FROM read_parquet(${sqlString(join(recordsFolder, '*.parquet'))})
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
  const { records } = warehouseLayout(warehouse);
  if ((await parquetParts(records)).length === 0) return [];
  const conditions: string[] = [];
  if (filter.shard) conditions.push(`study_id % ${filter.shard.count} = ${filter.shard.index}`);
  if (filter.studyIds) {
    if (filter.studyIds.length === 0) return [];
    conditions.push(`study_id IN (${filter.studyIds.map((id) => Math.trunc(id)).join(',')})`);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const rows = await withDuckDB((c) =>
    queryRows(c, `SELECT * FROM (${latestRecordsSql(records, where)}) ORDER BY study_id`),
  );
  return rows.map(toCatalogRow);
}

/** Every quarantine row written so far, oldest part first. */
export async function listQuarantine(warehouse: string): Promise<QuarantineRow[]> {
  const { quarantine } = warehouseLayout(warehouse);
  if ((await parquetParts(quarantine)).length === 0) return [];
  const rows = await withDuckDB((c) =>
    queryRows(
      c,
      `SELECT * FROM read_parquet(${sqlString(join(quarantine, '*.parquet'))}, filename = true)
       ORDER BY filename, source_path`,
    ),
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
  referencedWaveformFiles: Set<string>;
}

export async function loadShardState(warehouse: string, shard: Shard): Promise<ShardState> {
  const layout = warehouseLayout(warehouse);
  const state: ShardState = { stored: new Map(), quarantined: new Set(), referencedWaveformFiles: new Set() };
  const haveRecords = (await parquetParts(layout.records)).length > 0;
  const haveQuarantine = (await parquetParts(layout.quarantine)).length > 0;
  if (!haveRecords && !haveQuarantine) return state;
  await withDuckDB(async (c) => {
    if (haveRecords) {
      const where = `WHERE study_id % ${shard.count} = ${shard.index}`;
      const rows = await queryRows(
        c,
        `SELECT study_id, content_sha256, version, ingest_run_id FROM (${latestRecordsSql(layout.records, where)})`,
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
      const files = await queryRows(
        c,
        `SELECT DISTINCT waveform_file FROM read_parquet(${sqlString(join(layout.records, '*.parquet'))})`,
      );
      for (const row of files) state.referencedWaveformFiles.add(row.waveform_file as string);
    }
    if (haveQuarantine) {
      const rows = await queryRows(
        c,
        `SELECT DISTINCT source_path, content_sha256, problem
         FROM read_parquet(${sqlString(join(layout.quarantine, '*.parquet'))})`,
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
  });
  return state;
}

/** The record, waveform and quarantine parts holding rows a run wrote, with their hashes and sizes. */
export async function partsOfRun(
  warehouse: string,
  runId: string,
): Promise<Record<'records' | 'waveforms' | 'quarantine', WrittenFile[]>> {
  const layout = warehouseLayout(warehouse);
  const found = {
    records: new Map<string, number>(),
    waveforms: new Map<string, number>(),
    quarantine: new Map<string, number>(),
  };
  await withDuckDB(async (c) => {
    for (const kind of ['records', 'quarantine'] as const) {
      if ((await parquetParts(layout[kind])).length === 0) continue;
      const rows = await queryRows(
        c,
        `SELECT filename, count(*)::INTEGER AS n${kind === 'records' ? ', list(DISTINCT waveform_file) AS waveform_files' : ''}
           FROM read_parquet(${sqlString(join(layout[kind], '*.parquet'))}, filename = true, union_by_name = true)
          WHERE ingest_run_id = ${sqlString(runId)} GROUP BY filename`,
      );
      for (const row of rows) {
        found[kind].set(row.filename as string, Number(row.n));
        for (const name of (row.waveform_files as string[] | undefined) ?? []) {
          found.waveforms.set(join(layout.waveforms, name), 0);
        }
      }
    }
    if (found.waveforms.size === 0) return;
    const files = [...found.waveforms.keys()].map(sqlString).join(', ');
    const counts = await queryRows(
      c,
      `SELECT filename, count(*)::INTEGER AS n FROM read_parquet([${files}], filename = true) GROUP BY filename`,
    );
    for (const row of counts) found.waveforms.set(row.filename as string, Number(row.n));
  });
  const describe = async ([path, rows]: [string, number]): Promise<WrittenFile> => ({
    path,
    sha256: await sha256File(path),
    rows,
    bytes: (await stat(path)).size,
  });
  return {
    records: await Promise.all([...found.records].map(describe)),
    waveforms: await Promise.all([...found.waveforms].map(describe)),
    quarantine: await Promise.all([...found.quarantine].map(describe)),
  };
}
