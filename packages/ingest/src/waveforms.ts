import { join } from 'node:path';
import { ConfigError, type EcgRecord, InputError, LAKE, queryRows, warehouseLayout } from '@enecg/common';
import { listRecords, RECORDS_TABLE, readLakeTable } from './catalog.ts';
import { readParquetFile } from './parquet.ts';
import { type CatalogRow, STORED_INVALID, type StoredWaveform, storedWaveforms } from './tables.ts';
import { MILLIVOLTS_PER_UNIT } from './validate.ts';

export interface ReadWaveformsOptions {
  warehouse: string;
  /** Only these studies (default: every ingested study). */
  studyIds?: readonly number[];
  /** Records per yielded batch. */
  batchSize: number;
}

/** Physical values in millivolts (NaN where the sample was invalid), one Float32Array per lead. */
export function toEcgRecord(waveform: StoredWaveform): EcgRecord {
  const signals = waveform.digital.map((digital, lead) => {
    // Divide by the gain, as WFDB does, so values match physicalSignal() to the last bit.
    const millivolts = MILLIVOLTS_PER_UNIT[waveform.units[lead]!] ?? 1;
    const gain = waveform.gains[lead]!;
    const baseline = waveform.baselines[lead]!;
    const out = new Float32Array(digital.length);
    for (let i = 0; i < digital.length; i++) {
      const value = digital[i]!;
      out[i] = value === STORED_INVALID ? Number.NaN : ((value - baseline) / gain) * millivolts;
    }
    return out;
  });
  return {
    studyId: waveform.studyId,
    subjectId: waveform.subjectId,
    samplingRate: waveform.samplingRate,
    leadNames: waveform.leadNames,
    signals,
  };
}

/**
 * Newest version of each wanted study, grouped by the waveform part that holds it. The wanted set is
 * applied here rather than in SQL, so that a caller may pass hundreds of thousands of ids.
 */
async function studiesByPart(
  warehouse: string,
  studyIds?: readonly number[],
): Promise<Map<string, Set<number>>> {
  const parts = new Map<string, Set<number>>();
  if (studyIds?.length === 0) return parts;
  const wanted = studyIds === undefined ? undefined : new Set(studyIds);
  // Ordered by each part's smallest study: the read order depends on the data only, never on run ids.
  const rows = await readLakeTable(warehouse, RECORDS_TABLE, [], (c) =>
    queryRows(
      c,
      `SELECT waveform_file, list(study_id ORDER BY study_id) AS study_ids FROM (
         SELECT study_id, waveform_file FROM ${LAKE}.${RECORDS_TABLE}
         QUALIFY row_number() OVER (PARTITION BY study_id ORDER BY version DESC) = 1)
       GROUP BY waveform_file ORDER BY min(study_id), waveform_file`,
    ),
  );
  for (const row of rows) {
    const ids = (row.study_ids as string[])
      .map(Number)
      .filter((id) => wanted === undefined || wanted.has(id));
    if (ids.length > 0) parts.set(row.waveform_file as string, new Set(ids));
  }
  return parts;
}

/**
 * Yields stored ECGs in batches of `batchSize`, in millivolts, leads named. Memory stays bounded by
 * one waveform part plus one batch, whatever the warehouse holds. Superseded versions and parts
 * abandoned by an interrupted run are never yielded.
 */
export async function* readWaveforms(options: ReadWaveformsOptions): AsyncGenerator<EcgRecord[]> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new ConfigError(`must be a positive integer, got ${options.batchSize}`, 'batchSize');
  }
  const { waveforms } = warehouseLayout(options.warehouse);
  let batch: EcgRecord[] = [];
  for (const [part, wanted] of await studiesByPart(options.warehouse, options.studyIds)) {
    const table = await readParquetFile(join(waveforms, part));
    for (const waveform of storedWaveforms(table)) {
      if (!wanted.has(waveform.studyId)) continue;
      batch.push(toEcgRecord(waveform));
      if (batch.length >= options.batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/** One stored record: its catalog row, stored digital form, and physical values. */
export interface StoredRecord {
  catalog: CatalogRow;
  waveform: StoredWaveform;
  ecg: EcgRecord;
}

export async function readStoredRecord(warehouse: string, studyId: number): Promise<StoredRecord> {
  const [catalog] = await listRecords(warehouse, { studyIds: [studyId] });
  const { records, waveforms } = warehouseLayout(warehouse);
  if (catalog === undefined) {
    throw new InputError(`study ${studyId} has not been ingested`, {
      file: records,
      record: String(studyId),
      field: 'study_id',
    });
  }
  const table = await readParquetFile(join(waveforms, catalog.waveformFile));
  for (const waveform of storedWaveforms(table)) {
    if (waveform.studyId === studyId) return { catalog, waveform, ecg: toEcgRecord(waveform) };
  }
  throw new InputError(`waveform part ${catalog.waveformFile} lacks study ${studyId}`, {
    file: join(waveforms, catalog.waveformFile),
    record: String(studyId),
    field: 'study_id',
  });
}
