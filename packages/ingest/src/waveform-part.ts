import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { produceFileAtomic } from '@enecg/common';
import { tableToIPC } from 'apache-arrow';
import type { WrittenFile } from './parquet.ts';
import { ByteSink } from './parquet-format/byte-sink.ts';
import { Encoding, LevelRuns, writeDeltaBinaryPacked } from './parquet-format/encodings.ts';
import { ThriftCompactWriter } from './parquet-format/thrift-compact.ts';
import { type StoredWaveform, waveformTable } from './tables.ts';

/**
 * A Parquet writer for the one fixed schema of waveform parts, one row per lead:
 * `study_id, subject_id, lead_index, lead_name, sampling_rate, units, gain, baseline, samples
 * list<int16>`. It encodes straight from the leads' Int16Arrays, without building Arrow vectors or
 * crossing into wasm; parquet-wasm did the same job at 2-3x the CPU time (see README).
 *
 * Format (readable by any Parquet reader): uncompressed v1 data pages;
 * DELTA_BINARY_PACKED for the 32-bit integer columns (the samples included), PLAIN for the 64-bit
 * ids, doubles and strings; RLE levels; chunk statistics (min, max) on study_id only, which readers
 * use to skip row groups; the Arrow schema in the footer, as Arrow-based writers store it, so Arrow
 * readers get exactly the types the Arrow writer produced.
 */

/** How a part is cut: records per row group, and sample values per page (pages end between leads). */
export interface WaveformPartLayout {
  rowGroupRecords: number;
  pageValues: number;
}

/** 64 twelve-lead records (768 rows, about 8 MB of samples) per row group; pages of about 0.7 MB. */
export const WAVEFORM_PART_LAYOUT: WaveformPartLayout = { rowGroupRecords: 64, pageValues: 1 << 20 };

const CREATED_BY = 'enecg-ingest';

const PhysicalType = { int32: 1, int64: 2, double: 5, byteArray: 6 } as const;
const Repetition = { required: 0, optional: 1, repeated: 2 } as const;
const ConvertedType = { utf8: 0, list: 3, int16: 16 } as const;
const UNCOMPRESSED = 0;
const DATA_PAGE = 0;

type ColumnName =
  | 'study_id'
  | 'subject_id'
  | 'lead_index'
  | 'lead_name'
  | 'sampling_rate'
  | 'units'
  | 'gain'
  | 'baseline'
  | 'samples';

interface Column {
  name: ColumnName;
  path: string[];
  type: number;
  encoding: number;
}

/** Leaf columns in schema order. Strings are nullable (optional), as the Arrow writer made them. */
const COLUMNS: Column[] = [
  { name: 'study_id', path: ['study_id'], type: PhysicalType.int64, encoding: Encoding.plain },
  { name: 'subject_id', path: ['subject_id'], type: PhysicalType.int64, encoding: Encoding.plain },
  {
    name: 'lead_index',
    path: ['lead_index'],
    type: PhysicalType.int32,
    encoding: Encoding.deltaBinaryPacked,
  },
  { name: 'lead_name', path: ['lead_name'], type: PhysicalType.byteArray, encoding: Encoding.plain },
  { name: 'sampling_rate', path: ['sampling_rate'], type: PhysicalType.double, encoding: Encoding.plain },
  { name: 'units', path: ['units'], type: PhysicalType.byteArray, encoding: Encoding.plain },
  { name: 'gain', path: ['gain'], type: PhysicalType.double, encoding: Encoding.plain },
  { name: 'baseline', path: ['baseline'], type: PhysicalType.int32, encoding: Encoding.deltaBinaryPacked },
  {
    name: 'samples',
    path: ['samples', 'list', 'item'],
    type: PhysicalType.int32,
    encoding: Encoding.deltaBinaryPacked,
  },
];

const SAMPLES_COLUMN = COLUMNS.find((column) => column.name === 'samples')!;

/** What the footer records of one written column chunk. */
interface ChunkMetadata {
  column: Column;
  offset: number;
  bytes: number;
  values: number;
  studyIdRange?: { min: number; max: number };
}

interface RowGroupMetadata {
  rows: number;
  offset: number;
  bytes: number;
  chunks: ChunkMetadata[];
}

/**
 * Writes waveform parts. One writer serves a whole ingest run: its encoding buffers (a row group's
 * bytes, a page's, a page's samples) are allocated once and reused part after part.
 */
export class WaveformPartWriter {
  private readonly out = new ByteSink(1 << 22);
  private readonly page = new ByteSink(1 << 21);
  private readonly thrift = new ThriftCompactWriter(this.out);
  /** Reused buffer of the integers being delta-encoded (a page's samples, or a small column). */
  private samples = new Int32Array(0);
  private readonly textBytes = new Map<string, Uint8Array>();
  /** State of the part being encoded. */
  private rows = 0;
  private fileOffset = 0;
  private rowGroups: RowGroupMetadata[] = [];

  constructor(private readonly layout: WaveformPartLayout = WAVEFORM_PART_LAYOUT) {}

  /** Writes `waveforms` as a waveform part at `path`, atomically (temporary name, then rename). */
  async write(path: string, waveforms: readonly StoredWaveform[]): Promise<WrittenFile> {
    const hash = createHash('sha256');
    let bytes = 0;
    await produceFileAtomic(path, async (tmp) => {
      const file = await open(tmp, 'w');
      try {
        for (const chunk of this.encode(waveforms)) {
          hash.update(chunk);
          bytes += chunk.length;
          await file.write(chunk);
        }
      } finally {
        await file.close();
      }
    });
    return { path, sha256: hash.digest('hex'), rows: this.rows, bytes };
  }

  /** The bytes of a waveform part holding `waveforms`, in one buffer (benchmarks and tests). */
  encodeToBuffer(waveforms: readonly StoredWaveform[]): Uint8Array {
    const parts: Buffer[] = [];
    // Each chunk is a view into a reused buffer: copied before the next one is encoded.
    for (const bytes of this.encode(waveforms)) parts.push(Buffer.from(bytes));
    return Buffer.concat(parts);
  }

  /**
   * The file's bytes, one row group at a time, then the footer. Each yielded view is valid until the
   * next one is requested (the buffer is reused).
   */
  private *encode(waveforms: readonly StoredWaveform[]): Generator<Uint8Array> {
    this.rows = 0;
    this.fileOffset = 0;
    this.rowGroups = [];
    this.out.reset();
    this.out.append(MAGIC);
    for (let start = 0; start < waveforms.length; start += this.layout.rowGroupRecords) {
      const records = waveforms.slice(start, start + this.layout.rowGroupRecords);
      if (records.every((record) => record.digital.length === 0)) continue;
      this.writeRowGroup(records);
      yield this.flush();
    }
    this.writeFooter();
    yield this.flush();
  }

  private flush(): Uint8Array {
    const bytes = this.out.written();
    this.fileOffset += bytes.length;
    this.out.reset();
    return bytes;
  }

  /** Position in the file of the next byte written to `out`. */
  private get position(): number {
    return this.fileOffset + this.out.length;
  }

  private writeRowGroup(records: StoredWaveform[]): void {
    const offset = this.position;
    const leads: { record: StoredWaveform; lead: number }[] = [];
    for (const record of records)
      for (let lead = 0; lead < record.digital.length; lead++) leads.push({ record, lead });
    const perLead = (pick: (record: StoredWaveform, lead: number) => number) =>
      leads.map(({ record, lead }) => pick(record, lead));
    const chunks: ChunkMetadata[] = [];
    for (const column of COLUMNS) {
      const start = this.position;
      let values = leads.length;
      let studyIdRange: ChunkMetadata['studyIdRange'];
      switch (column.name) {
        case 'study_id': {
          const ids = perLead((record) => record.studyId);
          studyIdRange = { min: Math.min(...ids), max: Math.max(...ids) };
          this.writePage(leads.length, column, (page) => {
            for (const id of ids) page.int64(id);
          });
          break;
        }
        case 'subject_id':
          this.writePage(leads.length, column, (page) => {
            for (const { record } of leads) page.int64(record.subjectId);
          });
          break;
        case 'lead_index':
        case 'baseline': {
          const ints =
            column.name === 'lead_index'
              ? perLead((_, lead) => lead)
              : perLead((record, lead) => record.baselines[lead]!);
          this.writePage(leads.length, column, (page) => this.writeIntegers(page, ints));
          break;
        }
        case 'sampling_rate':
        case 'gain':
          this.writePage(leads.length, column, (page) => {
            for (const { record, lead } of leads)
              page.float64(column.name === 'gain' ? record.gains[lead]! : record.samplingRate);
          });
          break;
        case 'lead_name':
        case 'units':
          this.writePage(leads.length, column, (page) => {
            // Never null: one definition-level run of 1s, then the strings.
            const levels = this.beginLevels(page);
            const runs = new LevelRuns(page, 1);
            runs.add(1, leads.length);
            runs.finish();
            this.endLevels(page, levels);
            for (const { record, lead } of leads) {
              const text = column.name === 'units' ? record.units[lead]! : record.leadNames[lead]!;
              const bytes = this.utf8(text);
              page.uint32(bytes.length);
              page.append(bytes);
            }
          });
          break;
        case 'samples':
          values = this.writeSamplePages(leads.map(({ record, lead }) => record.digital[lead]!));
          break;
      }
      chunks.push({
        column,
        offset: start,
        bytes: this.position - start,
        values,
        ...(studyIdRange === undefined ? {} : { studyIdRange }),
      });
    }
    this.rows += leads.length;
    this.rowGroups.push({ rows: leads.length, offset, bytes: this.position - offset, chunks });
  }

  /** The samples column, split into pages at lead boundaries; returns its level count. */
  private writeSamplePages(leads: Int16Array[]): number {
    let levels = 0;
    let first = 0;
    while (first < leads.length) {
      let end = first;
      let sampleCount = 0;
      while (
        end < leads.length &&
        (end === first || sampleCount + leads[end]!.length <= this.layout.pageValues)
      ) {
        sampleCount += leads[end]!.length;
        end++;
      }
      const pageLeads = leads.slice(first, end);
      let pageLevels = 0;
      for (const lead of pageLeads) pageLevels += Math.max(lead.length, 1);
      this.writePage(pageLevels, SAMPLES_COLUMN, (page) =>
        this.writeSamplePage(page, pageLeads, sampleCount),
      );
      levels += pageLevels;
      first = end;
    }
    return levels;
  }

  /**
   * One page of `samples`: repetition levels (0 starts a lead's list, 1 continues it), definition
   * levels (2 for a sample, 1 for an empty list), then the samples of every lead, delta-encoded as
   * one stream.
   */
  private writeSamplePage(page: ByteSink, leads: Int16Array[], sampleCount: number): void {
    const repetition = this.beginLevels(page);
    const repetitionRuns = new LevelRuns(page, 1);
    for (const lead of leads) {
      repetitionRuns.add(0, 1);
      repetitionRuns.add(1, Math.max(lead.length - 1, 0));
    }
    repetitionRuns.finish();
    this.endLevels(page, repetition);
    const definition = this.beginLevels(page);
    const definitionRuns = new LevelRuns(page, 2);
    for (const lead of leads) {
      if (lead.length === 0) definitionRuns.add(1, 1);
      else definitionRuns.add(2, lead.length);
    }
    definitionRuns.finish();
    this.endLevels(page, definition);
    // The page's samples are one stream: copied next to each other (a memory copy), then encoded.
    if (this.samples.length < sampleCount) this.samples = new Int32Array(sampleCount);
    let position = 0;
    for (const lead of leads) {
      this.samples.set(lead, position);
      position += lead.length;
    }
    writeDeltaBinaryPacked(page, this.samples, sampleCount);
  }

  private writeIntegers(page: ByteSink, values: number[]): void {
    if (this.samples.length < values.length) this.samples = new Int32Array(values.length);
    this.samples.set(values);
    writeDeltaBinaryPacked(page, this.samples, values.length);
  }

  /** Encodes a page body into the page buffer, then writes its header and body to the output. */
  private writePage(levelCount: number, column: Column, body: (page: ByteSink) => void): void {
    this.page.reset();
    body(this.page);
    const size = this.page.length;
    this.thrift.message(() => {
      this.thrift.i32(1, DATA_PAGE);
      this.thrift.i32(2, size);
      this.thrift.i32(3, size);
      this.thrift.struct(5, () => {
        this.thrift.i32(1, levelCount);
        this.thrift.i32(2, column.encoding);
        this.thrift.i32(3, Encoding.rle);
        this.thrift.i32(4, Encoding.rle);
      });
    });
    this.out.append(this.page.written());
  }

  /** Levels of a v1 data page are prefixed with their byte length. */
  private beginLevels(page: ByteSink): number {
    const at = page.length;
    page.uint32(0);
    return at;
  }

  private endLevels(page: ByteSink, at: number): void {
    page.patchUint32(at, page.length - at - 4);
  }

  private utf8(text: string): Uint8Array {
    let bytes = this.textBytes.get(text);
    if (bytes === undefined) {
      bytes = new TextEncoder().encode(text);
      this.textBytes.set(text, bytes);
    }
    return bytes;
  }

  private writeFooter(): void {
    const start = this.out.length;
    const t = this.thrift;
    t.message(() => {
      t.i32(1, 1);
      t.structList(2, SCHEMA, (element) => writeSchemaElement(t, element));
      t.i64(3, this.rows);
      t.structList(4, this.rowGroups, (group) => {
        t.structList(1, group.chunks, (chunk) => {
          t.i64(2, chunk.offset);
          t.struct(3, () => writeColumnMetadata(t, chunk));
        });
        t.i64(2, group.bytes);
        t.i64(3, group.rows);
        t.i64(5, group.offset);
        t.i64(6, group.bytes);
        t.i16(7, this.rowGroups.indexOf(group));
      });
      t.structList(5, [{ key: 'ARROW:schema', value: arrowSchema() }], (entry) => {
        t.string(1, entry.key);
        t.string(2, entry.value);
      });
      t.string(6, CREATED_BY);
      // Min and max follow each column's type order (signed for study_id).
      t.structList(7, COLUMNS, () => t.struct(1, () => {}));
    });
    this.out.uint32(this.out.length - start);
    this.out.append(MAGIC);
  }
}

const MAGIC = new TextEncoder().encode('PAR1');

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
  const range = chunk.studyIdRange;
  if (range !== undefined) {
    t.struct(12, () => {
      // Both the deprecated (1, 2) and current (5, 6) fields, as the Arrow writer does.
      t.binary(1, int64Bytes(range.max));
      t.binary(2, int64Bytes(range.min));
      t.i64(3, 0);
      t.binary(5, int64Bytes(range.max));
      t.binary(6, int64Bytes(range.min));
    });
  }
}

function int64Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, BigInt(value), true);
  return bytes;
}

interface SchemaElement {
  name: string;
  type?: number;
  repetition?: number;
  children?: number;
  converted?: number;
  /** LogicalType union member: 1 STRING, 3 LIST, 10 INTEGER (16-bit signed here). */
  logical?: 1 | 3 | 10;
}

/** Depth-first schema, root first: what the Arrow writer derived from the waveform table's schema. */
const SCHEMA: SchemaElement[] = [
  { name: 'arrow_schema', children: 9 },
  { name: 'study_id', type: PhysicalType.int64, repetition: Repetition.required },
  { name: 'subject_id', type: PhysicalType.int64, repetition: Repetition.required },
  { name: 'lead_index', type: PhysicalType.int32, repetition: Repetition.required },
  {
    name: 'lead_name',
    type: PhysicalType.byteArray,
    repetition: Repetition.optional,
    converted: ConvertedType.utf8,
    logical: 1,
  },
  { name: 'sampling_rate', type: PhysicalType.double, repetition: Repetition.required },
  {
    name: 'units',
    type: PhysicalType.byteArray,
    repetition: Repetition.optional,
    converted: ConvertedType.utf8,
    logical: 1,
  },
  { name: 'gain', type: PhysicalType.double, repetition: Repetition.required },
  { name: 'baseline', type: PhysicalType.int32, repetition: Repetition.required },
  {
    name: 'samples',
    repetition: Repetition.optional,
    children: 1,
    converted: ConvertedType.list,
    logical: 3,
  },
  { name: 'list', repetition: Repetition.repeated, children: 1 },
  {
    name: 'item',
    type: PhysicalType.int32,
    repetition: Repetition.required,
    converted: ConvertedType.int16,
    logical: 10,
  },
];

function writeSchemaElement(t: ThriftCompactWriter, element: SchemaElement): void {
  if (element.type !== undefined) t.i32(1, element.type);
  if (element.repetition !== undefined) t.i32(3, element.repetition);
  t.string(4, element.name);
  if (element.children !== undefined) t.i32(5, element.children);
  if (element.converted !== undefined) t.i32(6, element.converted);
  if (element.logical !== undefined) {
    const member = element.logical;
    t.struct(10, () =>
      t.struct(member, () => {
        if (member === 10) {
          t.byte(1, 16);
          t.bool(2, true);
        }
      }),
    );
  }
}

let arrowSchemaBase64: string | undefined;

/**
 * The `ARROW:schema` footer entry: base64 of the Arrow IPC schema message (continuation marker,
 * length, flatbuffer), i.e. the first message of an IPC stream of the waveform table.
 */
function arrowSchema(): string {
  if (arrowSchemaBase64 === undefined) {
    const stream = tableToIPC(waveformTable([]), 'stream');
    const length = new DataView(stream.buffer, stream.byteOffset, stream.byteLength).getInt32(4, true);
    arrowSchemaBase64 = Buffer.from(stream.subarray(0, 8 + length)).toString('base64');
  }
  return arrowSchemaBase64;
}
