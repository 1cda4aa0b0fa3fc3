import { createHash } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { produceFileAtomic, sha256 } from '@enecg/common';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  Encoding,
  type RecordBatch as ParquetRecordBatch,
  Table as ParquetTable,
  readParquet,
  transformParquetStream,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';

/** A Parquet file this stage wrote: enough for lineage and for the run summary. */
export interface WrittenFile {
  path: string;
  sha256: string;
  rows: number;
  bytes: number;
}

export type ParquetLayout = 'table' | 'waveforms';

/** Columns of the waveform layout that delta encoding cannot hold (floats and strings). */
const WAVEFORM_PLAIN_COLUMNS = ['lead_name', 'units', 'gain', 'sampling_rate'];
/** One row per lead: 768 rows are 64 twelve-lead records, about 8 MB decoded. */
const WAVEFORM_ROW_GROUP_ROWS = 768;

/**
 * Writer settings, chosen by measurement (see README). Waveform samples are int16 written with
 * DELTA_BINARY_PACKED, no dictionary, no compression and no statistics: 3x faster than zstd and a
 * third smaller on real ECG; min/max statistics over millions of samples cost half the write time and
 * help no query. parquet-wasm can only address top-level columns by name, so the delta encoding is the
 * file-wide default and the few non-integer columns (all top-level) are set back to PLAIN.
 */
function writerProperties(layout: ParquetLayout) {
  const builder = new WriterPropertiesBuilder().setCreatedBy('enecg-ingest');
  if (layout === 'table') return builder.setCompression(Compression.ZSTD).build();
  return waveformWriterSettings(builder).build();
}

/** The waveform layout's settings on top of `builder` (exported for bench/waveform-writer-settings.ts). */
export function waveformWriterSettings(builder: WriterPropertiesBuilder): WriterPropertiesBuilder {
  let waveforms = builder
    .setDictionaryEnabled(false)
    .setEncoding(Encoding.DELTA_BINARY_PACKED)
    .setStatisticsEnabled(EnabledStatistics.None)
    .setColumnStatisticsEnabled('study_id', EnabledStatistics.Chunk)
    .setMaxRowGroupSize(WAVEFORM_ROW_GROUP_ROWS);
  for (const column of WAVEFORM_PLAIN_COLUMNS)
    waveforms = waveforms.setColumnEncoding(column, Encoding.PLAIN);
  return waveforms;
}

/** Serialises an Arrow table to Parquet bytes (Arrow IPC is how tables cross into the wasm writer). */
export function toParquet(table: Table, layout: ParquetLayout): Uint8Array {
  return writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), writerProperties(layout));
}

/** Writes an Arrow table as a Parquet file, atomically (temporary name, then rename). */
export async function writeParquetFile(
  path: string,
  table: Table,
  layout: ParquetLayout,
): Promise<WrittenFile> {
  const bytes = toParquet(table, layout);
  await produceFileAtomic(path, (tmp) => writeFile(tmp, bytes));
  return { path, sha256: sha256(bytes), rows: table.numRows, bytes: bytes.length };
}

/**
 * Writes Arrow tables (same schema) as one Parquet file, atomically, streaming them through the wasm
 * writer one at a time: its linear memory, which never shrinks, then only ever holds one chunk rather
 * than the whole part.
 */
export async function writeParquetChunks(
  path: string,
  chunks: Iterable<Table>,
  layout: ParquetLayout,
): Promise<WrittenFile> {
  const pending = chunks[Symbol.iterator]();
  let rows = 0;
  const batches = new ReadableStream<ParquetRecordBatch>({
    pull(controller) {
      const next = pending.next();
      if (next.done) {
        controller.close();
        return;
      }
      rows += next.value.numRows;
      for (const batch of ParquetTable.fromIPCStream(tableToIPC(next.value, 'stream')).recordBatches()) {
        controller.enqueue(batch);
      }
    },
  });
  const hash = createHash('sha256');
  let bytes = 0;
  await produceFileAtomic(path, async (tmp) => {
    const file = await open(tmp, 'w');
    try {
      const output = await transformParquetStream(batches, writerProperties(layout));
      for await (const chunk of output as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        bytes += chunk.length;
        await file.write(chunk);
      }
    } finally {
      await file.close();
    }
  });
  return { path, sha256: hash.digest('hex'), rows, bytes };
}

/** Reads a whole Parquet file (or only some columns) into an Arrow table in JavaScript memory. */
export async function readParquetFile(path: string, columns?: string[]): Promise<Table> {
  const bytes = await readFile(path);
  const table = readParquet(bytes, columns === undefined ? null : { columns });
  return tableFromIPC(table.intoIPCStream());
}
