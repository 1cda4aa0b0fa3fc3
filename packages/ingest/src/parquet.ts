import { readFile, writeFile } from 'node:fs/promises';
import { produceFileAtomic, sha256 } from '@enecg/common';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import {
  Compression,
  Table as ParquetTable,
  readParquet,
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

/**
 * Writer settings for the catalog and quarantine tables (small, string-heavy): zstd. Waveform parts
 * have their own writer (waveform-part.ts).
 */
function writerProperties() {
  return new WriterPropertiesBuilder().setCreatedBy('enecg-ingest').setCompression(Compression.ZSTD).build();
}

/** Serialises an Arrow table to Parquet bytes (Arrow IPC is how tables cross into the wasm writer). */
export function toParquet(table: Table): Uint8Array {
  return writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), writerProperties());
}

/** Writes an Arrow table as a Parquet file, atomically (temporary name, then rename). */
export async function writeParquetFile(path: string, table: Table): Promise<WrittenFile> {
  const bytes = toParquet(table);
  await produceFileAtomic(path, (tmp) => writeFile(tmp, bytes));
  return { path, sha256: sha256(bytes), rows: table.numRows, bytes: bytes.length };
}

/** Reads a whole Parquet file (or only some columns) into an Arrow table in JavaScript memory. */
export async function readParquetFile(path: string, columns?: string[]): Promise<Table> {
  const bytes = await readFile(path);
  const table = readParquet(bytes, columns === undefined ? null : { columns });
  return tableFromIPC(table.intoIPCStream());
}
