import { readFile } from 'node:fs/promises';
import { sha256, writeFileAtomic } from '@enecg/common';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { encodeRowTable, type RowTableFile } from './parquet-format/row-table.ts';

/** A Parquet file this stage wrote: enough for lineage and for the run summary. */
export interface WrittenFile {
  path: string;
  sha256: string;
  rows: number;
  bytes: number;
}

/** The `created_by` every Parquet file of this stage carries in its footer. */
export const CREATED_BY = 'enecg-ingest';

/** Writes the bytes of a Parquet part atomically (temporary name, then rename) and describes it. */
export async function writePartFile(path: string, bytes: Uint8Array, rows: number): Promise<WrittenFile> {
  await writeFileAtomic(path, bytes);
  return { path, sha256: sha256(bytes), rows, bytes: bytes.length };
}

/** Writes `rows` as a small Parquet table (catalog, quarantine). */
export function writeRowTableFile<Row>(
  path: string,
  file: RowTableFile<Row>,
  rows: readonly Row[],
): Promise<WrittenFile> {
  return writePartFile(path, encodeRowTable(file, rows), rows.length);
}

/**
 * The `ARROW:schema` footer entry Arrow-based writers store, for an (empty) table of the right
 * schema: base64 of the Arrow IPC schema message (continuation marker, length, flatbuffer), i.e. the
 * first message of an IPC stream of the table. Arrow readers then get exactly the table's types.
 */
export function arrowSchemaFooterValue(table: Table): string {
  const stream = tableToIPC(table, 'stream');
  const length = new DataView(stream.buffer, stream.byteOffset, stream.byteLength).getInt32(4, true);
  return Buffer.from(stream.subarray(0, 8 + length)).toString('base64');
}

/**
 * Reads a whole Parquet file (or only some columns) into an Arrow table in JavaScript memory.
 * parquet-wasm is loaded on first use: instantiating its module costs about 60 CPU-ms, which a
 * process that only writes (ingest) no longer pays.
 */
export async function readParquetFile(path: string, columns?: string[]): Promise<Table> {
  const { readParquet } = await import('parquet-wasm');
  const bytes = await readFile(path);
  const table = readParquet(bytes, columns === undefined ? null : { columns });
  return tableFromIPC(table.intoIPCStream());
}
