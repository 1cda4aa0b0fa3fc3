import type { ByteSink } from './byte-sink.ts';
import { Encoding, LevelRuns } from './encodings.ts';
import type { ThriftCompactWriter } from './thrift-compact.ts';

/** Parquet physical types (parquet.thrift `Type`) the writers use. */
export const PhysicalType = { int32: 1, int64: 2, double: 5, byteArray: 6 } as const;
export const Repetition = { required: 0, optional: 1, repeated: 2 } as const;
/** Legacy `ConvertedType` values, written next to the logical type as Arrow writers do. */
export const ConvertedType = { utf8: 0, list: 3, timestampMillis: 9, int16: 16 } as const;

export const MAGIC = new TextEncoder().encode('PAR1');
const UNCOMPRESSED = 0;
const DATA_PAGE = 0;

/** The logical types the writers need (members of parquet.thrift's `LogicalType` union). */
type LogicalType = 'string' | 'list' | 'int16' | 'timestamp-millis-local';

/** One node of the depth-first schema, root first. */
export interface SchemaElement {
  name: string;
  type?: number;
  repetition?: number;
  children?: number;
  converted?: number;
  logical?: LogicalType;
}

/** A leaf column as the footer and page headers describe it. */
export interface ColumnDescriptor {
  path: string[];
  type: number;
  encoding: number;
}

/** Min and max of a chunk, in the column's PLAIN byte form (signed order for integers). */
export interface ChunkStatistics {
  min: Uint8Array;
  max: Uint8Array;
  nullCount: number;
}

/** What the footer records of one written column chunk. */
export interface ChunkMetadata {
  column: ColumnDescriptor;
  offset: number;
  bytes: number;
  /** Level count: values plus nulls and empty lists. */
  values: number;
  statistics?: ChunkStatistics;
}

export interface RowGroupMetadata {
  rows: number;
  offset: number;
  bytes: number;
  chunks: ChunkMetadata[];
}

export interface FileMetadata {
  schema: readonly SchemaElement[];
  rows: number;
  rowGroups: readonly RowGroupMetadata[];
  /** Footer key-value pairs, e.g. `ARROW:schema`. */
  keyValues: readonly { key: string; value: string }[];
  createdBy: string;
}

/**
 * A v1 data page (uncompressed): header, then `body`, which the caller has encoded (levels, then
 * values). Levels are always RLE.
 */
export function writeDataPage(
  thrift: ThriftCompactWriter,
  levelCount: number,
  encoding: number,
  body: Uint8Array,
): void {
  thrift.message(() => {
    thrift.i32(1, DATA_PAGE);
    thrift.i32(2, body.length);
    thrift.i32(3, body.length);
    thrift.struct(5, () => {
      thrift.i32(1, levelCount);
      thrift.i32(2, encoding);
      thrift.i32(3, Encoding.rle);
      thrift.i32(4, Encoding.rle);
    });
  });
  thrift.sink.append(body);
}

/** Levels of a v1 data page are prefixed with their byte length: reserve it, then patch it. */
export function beginLevels(page: ByteSink): number {
  const at = page.length;
  page.uint32(0);
  return at;
}

export function endLevels(page: ByteSink, at: number): void {
  page.patchUint32(at, page.length - at - 4);
}

/**
 * The levels of a page of lists (a required list of required items), one list per length: repetition
 * 0 starts a list and 1 continues it; definition 2 is an item, 1 an empty list. Returns the level count.
 */
export function writeListLevels(page: ByteSink, lengths: Iterable<number>): number {
  const repetition = beginLevels(page);
  const repetitionRuns = new LevelRuns(page, 1);
  let count = 0;
  for (const length of lengths) {
    repetitionRuns.add(0, 1);
    repetitionRuns.add(1, Math.max(length - 1, 0));
    count += Math.max(length, 1);
  }
  repetitionRuns.finish();
  endLevels(page, repetition);
  const definition = beginLevels(page);
  const definitionRuns = new LevelRuns(page, 2);
  for (const length of lengths) definitionRuns.add(length === 0 ? 1 : 2, Math.max(length, 1));
  definitionRuns.finish();
  endLevels(page, definition);
  return count;
}

/** The footer (FileMetaData), its length and the closing magic. */
export function writeFooter(t: ThriftCompactWriter, metadata: FileMetadata): void {
  const start = t.sink.length;
  t.message(() => {
    t.i32(1, 1);
    t.structList(2, metadata.schema, (element) => writeSchemaElement(t, element));
    t.i64(3, metadata.rows);
    t.structList(4, metadata.rowGroups, (group) => {
      t.structList(1, group.chunks, (chunk) => {
        t.i64(2, chunk.offset);
        t.struct(3, () => writeColumnMetadata(t, chunk));
      });
      t.i64(2, group.bytes);
      t.i64(3, group.rows);
      t.i64(5, group.offset);
      t.i64(6, group.bytes);
      t.i16(7, metadata.rowGroups.indexOf(group));
    });
    t.structList(5, metadata.keyValues, (entry) => {
      t.string(1, entry.key);
      t.string(2, entry.value);
    });
    t.string(6, metadata.createdBy);
    // Min and max follow each column's type order (TypeDefinedOrder, an empty struct).
    // One per leaf column: the schema elements that carry a physical type.
    const leaves = metadata.schema.filter((element) => element.type !== undefined);
    t.structList(7, leaves, () => t.struct(1, () => {}));
  });
  t.sink.uint32(t.sink.length - start);
  t.sink.append(MAGIC);
}

function writeColumnMetadata(t: ThriftCompactWriter, chunk: ChunkMetadata): void {
  const { column } = chunk;
  t.i32(1, column.type);
  t.i32List(2, [column.encoding, Encoding.rle]);
  t.stringList(3, column.path);
  t.i32(4, UNCOMPRESSED);
  t.i64(5, chunk.values);
  t.i64(6, chunk.bytes);
  t.i64(7, chunk.bytes);
  t.i64(9, chunk.offset);
  const statistics = chunk.statistics;
  if (statistics !== undefined) {
    t.struct(12, () => {
      // Both the deprecated (1, 2) and current (5, 6) fields, as the Arrow writer does.
      t.binary(1, statistics.max);
      t.binary(2, statistics.min);
      t.i64(3, statistics.nullCount);
      t.binary(5, statistics.max);
      t.binary(6, statistics.min);
    });
  }
}

/** Little-endian int64 bytes of a safe integer: the PLAIN form statistics of INT64 columns take. */
export function int64Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, BigInt(value), true);
  return bytes;
}

/** LogicalType union member ids (parquet.thrift). */
const LogicalTypeId = { string: 1, list: 3, timestamp: 8, integer: 10 } as const;

function writeSchemaElement(t: ThriftCompactWriter, element: SchemaElement): void {
  if (element.type !== undefined) t.i32(1, element.type);
  if (element.repetition !== undefined) t.i32(3, element.repetition);
  t.string(4, element.name);
  if (element.children !== undefined) t.i32(5, element.children);
  if (element.converted !== undefined) t.i32(6, element.converted);
  switch (element.logical) {
    case undefined:
      break;
    case 'string':
      t.struct(10, () => t.struct(LogicalTypeId.string, () => {}));
      break;
    case 'list':
      t.struct(10, () => t.struct(LogicalTypeId.list, () => {}));
      break;
    case 'int16':
      t.struct(10, () =>
        t.struct(LogicalTypeId.integer, () => {
          t.byte(1, 16);
          t.bool(2, true);
        }),
      );
      break;
    case 'timestamp-millis-local':
      // TimestampType { isAdjustedToUTC: false, unit: MILLIS }: what Arrow's timestamp[ms] without a
      // time zone maps to, and DuckDB reads as TIMESTAMP.
      t.struct(10, () =>
        t.struct(LogicalTypeId.timestamp, () => {
          t.bool(1, false);
          t.struct(2, () => t.struct(1, () => {}));
        }),
      );
      break;
  }
}
