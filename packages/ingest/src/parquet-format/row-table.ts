import { ByteSink } from './byte-sink.ts';
import { Encoding, LevelRuns } from './encodings.ts';
import {
  beginLevels,
  type ChunkMetadata,
  type ChunkStatistics,
  ConvertedType,
  endLevels,
  int64Bytes,
  MAGIC,
  PhysicalType,
  Repetition,
  type SchemaElement,
  writeDataPage,
  writeFooter,
  writeListLevels,
} from './file-metadata.ts';
import { ThriftCompactWriter } from './thrift-compact.ts';

/**
 * One column of a small row table (the catalog and quarantine parts), with how to take its value
 * from a row. `nullable` decides OPTIONAL or REQUIRED, which must match what the table's Arrow
 * schema says so that Arrow readers and DuckDB see the types the former Arrow writer produced.
 */
export type RowTableColumn<Row> =
  | {
      name: string;
      kind: 'int64' | 'int32' | 'double' | 'timestamp-millis';
      nullable: boolean;
      /** Min/max statistics, which readers use to skip files (only for int64, e.g. study_id). */
      statistics?: boolean;
      value: (row: Row) => number | null;
    }
  | { name: string; kind: 'string'; nullable: boolean; value: (row: Row) => string | null }
  /** A list of non-null strings, itself never null: `VARCHAR[]` in DuckDB. */
  | { name: string; kind: 'string-list'; value: (row: Row) => readonly string[] };

export interface RowTableFile<Row> {
  columns: readonly RowTableColumn<Row>[];
  /** Footer key-value pairs (the `ARROW:schema` entry). */
  keyValues: readonly { key: string; value: string }[];
  createdBy: string;
}

const utf8 = new TextEncoder();

/**
 * The Parquet bytes of `rows`: one row group, one uncompressed v1 data page per column, PLAIN values,
 * RLE levels. These tables hold a few hundred short rows per part, so neither dictionaries nor
 * compression would pay for their CPU; the waveform parts hold 99.9% of the bytes.
 */
export function encodeRowTable<Row>(file: RowTableFile<Row>, rows: readonly Row[]): Uint8Array {
  const out = new ByteSink(1 << 16);
  const page = new ByteSink(1 << 16);
  const thrift = new ThriftCompactWriter(out);
  out.append(MAGIC);
  const chunks: ChunkMetadata[] = [];
  for (const column of file.columns) {
    const offset = out.length;
    page.reset();
    const levels = encodeColumn(page, column, rows);
    const descriptor = {
      path: column.kind === 'string-list' ? [column.name, 'list', 'item'] : [column.name],
      type: PHYSICAL_TYPE[column.kind],
      encoding: Encoding.plain,
    };
    writeDataPage(thrift, levels.count, descriptor.encoding, page.written());
    chunks.push({
      column: descriptor,
      offset,
      bytes: out.length - offset,
      values: levels.count,
      ...(levels.statistics === undefined ? {} : { statistics: levels.statistics }),
    });
  }
  const rowGroupBytes = out.length - MAGIC.length;
  writeFooter(thrift, {
    schema: schemaOf(file.columns),
    rows: rows.length,
    rowGroups: [{ rows: rows.length, offset: MAGIC.length, bytes: rowGroupBytes, chunks }],
    keyValues: file.keyValues,
    createdBy: file.createdBy,
  });
  return out.written().slice();
}

const PHYSICAL_TYPE: Record<RowTableColumn<unknown>['kind'], number> = {
  int64: PhysicalType.int64,
  int32: PhysicalType.int32,
  double: PhysicalType.double,
  'timestamp-millis': PhysicalType.int64,
  string: PhysicalType.byteArray,
  'string-list': PhysicalType.byteArray,
};

/** A page body: levels (when the column has any), then the non-null values. Returns the level count. */
function encodeColumn<Row>(
  page: ByteSink,
  column: RowTableColumn<Row>,
  rows: readonly Row[],
): { count: number; statistics?: ChunkStatistics } {
  if (column.kind === 'string-list') {
    const lists = rows.map(column.value);
    const count = writeListLevels(
      page,
      lists.map((list) => list.length),
    );
    for (const list of lists) for (const text of list) writeString(page, text);
    return { count };
  }
  const values = rows.map(column.value as (row: Row) => number | string | null);
  if (column.nullable) {
    const definition = beginLevels(page);
    const runs = new LevelRuns(page, 1);
    for (const value of values) runs.add(value === null ? 0 : 1, 1);
    runs.finish();
    endLevels(page, definition);
  }
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let nulls = 0;
  for (const value of values) {
    if (value === null) {
      nulls++;
      continue;
    }
    switch (column.kind) {
      case 'int64':
      case 'timestamp-millis':
        page.int64(value as number);
        break;
      case 'int32':
        page.int32(value as number);
        break;
      case 'double':
        page.float64(value as number);
        break;
      case 'string':
        writeString(page, value as string);
        break;
    }
    if (typeof value === 'number') {
      if (value < min) min = value;
      if (value > max) max = value;
    }
  }
  const wantsStatistics = column.kind === 'int64' && column.statistics === true;
  if (!wantsStatistics || nulls === values.length) return { count: values.length };
  return {
    count: values.length,
    statistics: { min: int64Bytes(min), max: int64Bytes(max), nullCount: nulls },
  };
}

/** PLAIN BYTE_ARRAY: 4-byte little-endian length, then the UTF-8 bytes. */
function writeString(page: ByteSink, text: string): void {
  const bytes = utf8.encode(text);
  page.uint32(bytes.length);
  page.append(bytes);
}

/** The schema Arrow's writer derives: flat columns, lists as `name / list / item`. */
function schemaOf<Row>(columns: readonly RowTableColumn<Row>[]): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: 'arrow_schema', children: columns.length }];
  for (const column of columns) {
    const repetition =
      column.kind === 'string-list' || column.nullable ? Repetition.optional : Repetition.required;
    switch (column.kind) {
      case 'string-list':
        schema.push(
          {
            name: column.name,
            repetition,
            children: 1,
            converted: ConvertedType.list,
            logical: 'list',
          },
          { name: 'list', repetition: Repetition.repeated, children: 1 },
          {
            name: 'item',
            type: PhysicalType.byteArray,
            repetition: Repetition.required,
            converted: ConvertedType.utf8,
            logical: 'string',
          },
        );
        break;
      case 'string':
        schema.push({
          name: column.name,
          type: PhysicalType.byteArray,
          repetition,
          converted: ConvertedType.utf8,
          logical: 'string',
        });
        break;
      case 'timestamp-millis':
        schema.push({
          name: column.name,
          type: PhysicalType.int64,
          repetition,
          converted: ConvertedType.timestampMillis,
          logical: 'timestamp-millis-local',
        });
        break;
      default:
        schema.push({ name: column.name, type: PHYSICAL_TYPE[column.kind], repetition });
    }
  }
  return schema;
}
