import { readFile, writeFile } from 'node:fs/promises';
import { produceFileAtomic, sha256 } from '@enecg/common';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { encodeRowTable, type RowTableFile } from './parquet-format/row-table.ts';

/** A Parquet file this stage wrote: enough for lineage and for the run summary. */
export interface WrittenFile {
  path: string;
  sha256: string;
  rows: number;
  bytes: number;
}

/** Writes `rows` as a small Parquet table (catalog, quarantine), atomically (temporary name, then rename). */
export async function writeRowTableFile<Row>(
  path: string,
  file: RowTableFile<Row>,
  rows: readonly Row[],
): Promise<WrittenFile> {
  const bytes = encodeRowTable(file, rows);
  await produceFileAtomic(path, (tmp) => writeFile(tmp, bytes));
  return { path, sha256: sha256(bytes), rows: rows.length, bytes: bytes.length };
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
