import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LAKE, type Lake, lakeTableExists, queryRows, serializedTransaction, sqlString } from '@enecg/common';
import { QUARANTINE_TABLE, RECORDS_TABLE, WAVEFORMS_TABLE } from './catalog.ts';
import { readParquetFile, type WrittenFile, writeRowTableFile } from './parquet.ts';
import {
  type CatalogRow,
  catalogPart,
  type QuarantineRow,
  quarantinePart,
  type StoredWaveform,
  storedWaveforms,
} from './tables.ts';
import { WaveformPartWriter } from './waveform-part.ts';

/** Every ingest commit, whatever its shard, passes this gate: "stored yet?" and "store it" are one step. */
const INGEST_GATE = 'ingest';

/** One batch, encoded and staged: the waveform part already lies where the lake keeps waveforms. */
export interface StagedBatch {
  /** Folder of the waveforms table's data files (parts are registered there, as written). */
  waveformsDir: string;
  /** The batch's waveform part (absent when the batch ingested nothing). */
  waveformPart?: WrittenFile;
  records: Omit<CatalogRow, 'waveformFile' | 'version'>[];
  quarantine: QuarantineRow[];
  /** A private scratch folder for the small staged row tables. */
  scratchDir: string;
}

export interface CommittedBatch {
  /** The registered waveform part (the staged one, or a rewrite without studies stored meanwhile). */
  waveformPart?: WrittenFile;
  records: number;
  /** Staged studies another run stored first, with the same content: now unchanged, not ingested. */
  storedMeanwhile: number;
  quarantine: number;
}

/** A part's name from the studies and contents it holds: same batch, same name, whoever writes it. */
export function waveformPartName(records: readonly Pick<CatalogRow, 'studyId' | 'contentSha256'>[]): string {
  const hash = createHash('sha256');
  for (const record of records) hash.update(`${record.studyId}:${record.contentSha256};`);
  return `ingest-${hash.digest('hex').slice(0, 24)}.parquet`;
}

/** Numbers staged files (see commitBatch). */
let stagedBatchCounter = 0;

/**
 * Commits one batch in one lake transaction: the waveform part is registered as written
 * (`ducklake_add_data_files`, no copy), the catalog rows get their versions from what is stored at
 * commit time, quarantine verdicts are added once. Commits are serialized on one gate, so a study that a
 * concurrent run (or an overlapping retry) stored first is dropped from this batch rather than stored twice.
 */
export async function commitBatch(lake: Lake, batch: StagedBatch, label: string): Promise<CommittedBatch> {
  // A new name per batch: DuckDB's external file cache keys file contents by path and modification time,
  // and a batch staged under the previous batch's name in the same instant was read back partly from that
  // cache (a study id off by 2^32, in about one ingest in ten under load).
  const staged = `${stagedBatchCounter++}`;
  const stagedRecords = join(batch.scratchDir, `records-${staged}.parquet`);
  const stagedQuarantine = join(batch.scratchDir, `quarantine-${staged}.parquet`);
  const recordsPart = catalogPart();
  if (batch.records.length > 0) {
    await writeRowTableFile(
      stagedRecords,
      recordsPart,
      batch.records.map((record) => ({ ...record, version: 0, waveformFile: '' })),
    );
  }
  if (batch.quarantine.length > 0) {
    await writeRowTableFile(stagedQuarantine, quarantinePart(), batch.quarantine);
  }
  try {
    return await serializedTransaction(lake, INGEST_GATE, label, async (connection) => {
      const committed: CommittedBatch = { records: 0, storedMeanwhile: 0, quarantine: 0 };
      if (batch.records.length > 0 && batch.waveformPart) {
        await createTableLike(connection, RECORDS_TABLE, stagedRecords);
        await createTableLike(connection, WAVEFORMS_TABLE, batch.waveformPart.path);
        const range = studyRange(batch.records);
        const stored = await storedAlready(connection, stagedRecords, range);
        const fresh = batch.records.filter((record) => !stored.has(record.studyId));
        committed.storedMeanwhile = batch.records.length - fresh.length;
        if (fresh.length > 0) {
          const part =
            stored.size === 0
              ? batch.waveformPart
              : await rewriteWithout(batch.waveformPart, batch.waveformsDir, fresh, stored);
          await connection.run(
            `CALL ducklake_add_data_files(${sqlString(LAKE)}, ${sqlString(WAVEFORMS_TABLE)}, ${sqlString(part.path)})`,
          );
          const name = part.path.slice(batch.waveformsDir.length + 1);
          await insertRecords(connection, stagedRecords, name, range);
          committed.waveformPart = part;
          committed.records = fresh.length;
        }
      }
      if (batch.quarantine.length > 0) {
        await createTableLike(connection, QUARANTINE_TABLE, stagedQuarantine);
        committed.quarantine = await insertQuarantine(connection, stagedQuarantine);
      }
      return committed;
    });
  } finally {
    await rm(stagedRecords, { force: true });
    await rm(stagedQuarantine, { force: true });
  }
}

/** Tables take the exact schema of ingest's own Parquet writer, so its parts register as they are. */
async function createTableLike(connection: DuckDBConnection, table: string, file: string): Promise<void> {
  if (await lakeTableExists(connection, table)) return;
  await connection.run(
    `CREATE TABLE IF NOT EXISTS ${LAKE}.${table} AS SELECT * FROM read_parquet(${sqlString(file)}) LIMIT 0`,
  );
}

/**
 * `study_id BETWEEN lo AND hi` over the stored catalog: DuckLake skips every data file whose study id range
 * misses the batch's, so a commit reads a few small files, not the whole catalog.
 */
function studyRange(records: readonly Pick<CatalogRow, 'studyId'>[]): string {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const { studyId } of records) {
    lo = Math.min(lo, studyId);
    hi = Math.max(hi, studyId);
  }
  return `study_id BETWEEN ${lo} AND ${hi}`;
}

/** Studies of the staged batch stored (with the same content) by another run since this one started. */
async function storedAlready(
  connection: DuckDBConnection,
  stagedRecords: string,
  range: string,
): Promise<Set<number>> {
  const rows = await queryRows(
    connection,
    `SELECT s.study_id FROM read_parquet(${sqlString(stagedRecords)}) s
     SEMI JOIN (SELECT study_id, content_sha256 FROM ${LAKE}.${RECORDS_TABLE} WHERE ${range}) r
       ON r.study_id = s.study_id AND r.content_sha256 = s.content_sha256`,
  );
  return new Set(rows.map((row) => Number(row.study_id)));
}

/** Catalog rows of the fresh studies; a study's version is one more than its newest stored version. */
async function insertRecords(
  connection: DuckDBConnection,
  stagedRecords: string,
  waveformFile: string,
  range: string,
) {
  await connection.run(
    `INSERT INTO ${LAKE}.${RECORDS_TABLE}
     WITH stored AS (SELECT study_id, content_sha256, version FROM ${LAKE}.${RECORDS_TABLE} WHERE ${range})
     SELECT s.* REPLACE (coalesce(v.version, 0) + 1 AS version, ${sqlString(waveformFile)} AS waveform_file)
       FROM read_parquet(${sqlString(stagedRecords)}) s
       LEFT JOIN (SELECT study_id, max(version) AS version FROM stored GROUP BY study_id) v USING (study_id)
      WHERE NOT EXISTS (SELECT 1 FROM stored r
                         WHERE r.study_id = s.study_id AND r.content_sha256 = s.content_sha256)
      ORDER BY s.study_id`,
  );
}

/** Quarantine verdicts not recorded yet (same source, same content, same problem). */
async function insertQuarantine(connection: DuckDBConnection, stagedQuarantine: string): Promise<number> {
  const [row] = await queryRows(
    connection,
    `INSERT INTO ${LAKE}.${QUARANTINE_TABLE}
     SELECT * FROM read_parquet(${sqlString(stagedQuarantine)}) s
      WHERE NOT EXISTS (SELECT 1 FROM ${LAKE}.${QUARANTINE_TABLE} q
                         WHERE q.source_path = s.source_path AND q.problem = s.problem
                           AND q.content_sha256 IS NOT DISTINCT FROM s.content_sha256)`,
  );
  return Number(row?.Count ?? 0);
}

/**
 * The rare case of two runs ingesting the same studies at once: the part is written again without the
 * studies the other run stored first (read back from the staged part, whose samples are already encoded).
 */
async function rewriteWithout(
  staged: WrittenFile,
  waveformsDir: string,
  fresh: readonly Pick<CatalogRow, 'studyId' | 'contentSha256'>[],
  stored: ReadonlySet<number>,
): Promise<WrittenFile> {
  const writer = new WaveformPartWriter();
  const kept: StoredWaveform[] = [];
  for (const waveform of storedWaveforms(await readParquetFile(staged.path))) {
    if (!stored.has(waveform.studyId)) kept.push(waveform);
  }
  for (const waveform of kept) writer.append(waveform);
  return writer.finish(join(waveformsDir, waveformPartName(fresh)));
}
