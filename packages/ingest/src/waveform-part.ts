import { arrowSchemaFooterValue, CREATED_BY, type WrittenFile, writePartFile } from './parquet.ts';
import { ByteSink } from './parquet-format/byte-sink.ts';
import { Encoding, LevelRuns, writeDeltaBinaryPacked } from './parquet-format/encodings.ts';
import {
  beginLevels,
  type ChunkMetadata,
  type ColumnDescriptor,
  ConvertedType,
  endLevels,
  int64Bytes,
  MAGIC,
  PhysicalType,
  Repetition,
  type RowGroupMetadata,
  type SchemaElement,
  writeDataPage,
  writeFooter,
  writeListLevels,
} from './parquet-format/file-metadata.ts';
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
const WAVEFORM_PART_LAYOUT: WaveformPartLayout = { rowGroupRecords: 64, pageValues: 1 << 20 };

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

interface Column extends ColumnDescriptor {
  name: ColumnName;
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

/** What the footer columns need of an appended record once its samples are encoded. */
type RecordMetadata = Omit<StoredWaveform, 'digital'> & { leadCount: number };

/**
 * Writes waveform parts record by record: `append` encodes a record's samples at once (so its lead
 * arrays can be reused for the next record while the samples are still in the CPU cache), `finish`
 * completes the part and writes it. One writer serves a whole ingest run: its buffers (the part's
 * bytes, a row group's samples, a page's) are allocated once and reused part after part.
 */
export class WaveformPartWriter {
  /** The part so far: magic, then each completed row group. */
  private readonly out = new ByteSink(1 << 22);
  private readonly thrift = new ThriftCompactWriter(this.out);
  /** Pages of the samples column of the open row group (the last column: written after the others). */
  private readonly sampleChunk = new ByteSink(1 << 21);
  private readonly sampleChunkThrift = new ThriftCompactWriter(this.sampleChunk);
  private sampleChunkLevels = 0;
  /**
   * The open sample page: its leads' lengths and their samples, copied (widened to 32 bits, the
   * encoder's input) as each record is appended, while they are still in the CPU cache.
   */
  private pageLeadLengths: number[] = [];
  private pageSampleCount = 0;
  private pageSamples = new Int32Array(0);
  /** Body of the page (or small column) being written, before its header. */
  private readonly page = new ByteSink(1 << 21);
  /** Reused buffer of a small integer column (lead_index, baseline). */
  private integers = new Int32Array(0);
  private readonly textBytes = new Map<string, Uint8Array>();
  /** Records of the open row group, and what the part holds so far. */
  private rowGroupRecords: RecordMetadata[] = [];
  private rows = 0;
  private rowGroups: RowGroupMetadata[] = [];

  constructor(private readonly layout: WaveformPartLayout = WAVEFORM_PART_LAYOUT) {
    this.out.append(MAGIC);
  }

  /**
   * Adds a record to the part being written, encoding its samples now: its lead arrays are not kept
   * and may be overwritten as soon as this returns.
   */
  append(record: StoredWaveform): void {
    if (this.rowGroupRecords.length === this.layout.rowGroupRecords) this.finishRowGroup();
    const { digital, ...metadata } = record;
    this.rowGroupRecords.push({ ...metadata, leadCount: digital.length });
    for (const lead of digital) {
      // Pages end between leads: a lead that would overfill a non-empty page starts the next one.
      if (this.pageLeadLengths.length > 0 && this.pageSampleCount + lead.length > this.layout.pageValues) {
        this.finishPage();
      }
      this.pageLeadLengths.push(lead.length);
      this.reservePageSamples(this.pageSampleCount + lead.length);
      this.pageSamples.set(lead, this.pageSampleCount);
      this.pageSampleCount += lead.length;
    }
  }

  /**
   * Completes the part holding the records appended since the last `finish` and writes it at `path`,
   * atomically (temporary name, then rename). The writer is then ready for the next part.
   */
  async finish(path: string): Promise<WrittenFile> {
    const rows = this.completePart();
    const written = await writePartFile(path, this.out.written(), rows);
    this.startPart();
    return written;
  }

  /** The bytes of a waveform part holding `waveforms` (benchmarks and tests). */
  encodeToBuffer(waveforms: readonly StoredWaveform[]): Uint8Array {
    for (const waveform of waveforms) this.append(waveform);
    this.completePart();
    const bytes = this.out.written().slice();
    this.startPart();
    return bytes;
  }

  /** Closes the open row group and writes the footer; returns the part's row count. */
  private completePart(): number {
    this.finishRowGroup();
    this.writeFooter();
    return this.rows;
  }

  private startPart(): void {
    this.out.reset();
    this.out.append(MAGIC);
    this.rows = 0;
    this.rowGroups = [];
  }

  /**
   * Writes the open page of `samples`: repetition levels (0 starts a lead's list, 1 continues it),
   * definition levels (2 for a sample, 1 for an empty list), then the page's samples, delta-encoded
   * as one stream across its leads.
   */
  private finishPage(): void {
    const leads = this.pageLeadLengths;
    if (leads.length === 0) return;
    const page = this.page;
    page.reset();
    const levels = writeListLevels(page, leads);
    writeDeltaBinaryPacked(page, this.pageSamples, this.pageSampleCount);
    writeDataPage(this.sampleChunkThrift, levels, SAMPLES_COLUMN.encoding, page.written());
    this.sampleChunkLevels += levels;
    this.pageLeadLengths = [];
    this.pageSampleCount = 0;
  }

  private reservePageSamples(count: number): void {
    if (this.pageSamples.length >= count) return;
    const grown = new Int32Array(Math.max(count, 2 * this.pageSamples.length));
    grown.set(this.pageSamples.subarray(0, this.pageSampleCount));
    this.pageSamples = grown;
  }

  /** Writes the open row group (unless it holds no lead): the per-lead columns, then the samples. */
  private finishRowGroup(): void {
    this.finishPage();
    const records = this.rowGroupRecords;
    if (records.some((record) => record.leadCount > 0)) this.writeRowGroup(records);
    this.rowGroupRecords = [];
    this.sampleChunk.reset();
    this.sampleChunkLevels = 0;
  }

  /** Position in the part of the next byte written. */
  private get position(): number {
    return this.out.length;
  }

  private writeRowGroup(records: RecordMetadata[]): void {
    const offset = this.position;
    const leads: { record: RecordMetadata; lead: number }[] = [];
    for (const record of records)
      for (let lead = 0; lead < record.leadCount; lead++) leads.push({ record, lead });
    const perLead = (pick: (record: RecordMetadata, lead: number) => number) =>
      leads.map(({ record, lead }) => pick(record, lead));
    const chunks: ChunkMetadata[] = [];
    for (const column of COLUMNS) {
      const start = this.position;
      let values = leads.length;
      let statistics: ChunkMetadata['statistics'];
      switch (column.name) {
        case 'study_id': {
          const ids = perLead((record) => record.studyId);
          statistics = {
            min: int64Bytes(Math.min(...ids)),
            max: int64Bytes(Math.max(...ids)),
            nullCount: 0,
          };
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
            const levels = beginLevels(page);
            const runs = new LevelRuns(page, 1);
            runs.add(1, leads.length);
            runs.finish();
            endLevels(page, levels);
            for (const { record, lead } of leads) {
              const text = column.name === 'units' ? record.units[lead]! : record.leadNames[lead]!;
              const bytes = this.utf8(text);
              page.uint32(bytes.length);
              page.append(bytes);
            }
          });
          break;
        case 'samples':
          // Encoded as the records were appended.
          this.out.append(this.sampleChunk.written());
          values = this.sampleChunkLevels;
          break;
      }
      chunks.push({
        column,
        offset: start,
        bytes: this.position - start,
        values,
        ...(statistics === undefined ? {} : { statistics }),
      });
    }
    this.rows += leads.length;
    this.rowGroups.push({ rows: leads.length, offset, bytes: this.position - offset, chunks });
  }

  private writeIntegers(page: ByteSink, values: number[]): void {
    if (this.integers.length < values.length) this.integers = new Int32Array(values.length);
    this.integers.set(values);
    writeDeltaBinaryPacked(page, this.integers, values.length);
  }

  /** Encodes a page body into the page buffer, then writes its header and body to the output. */
  private writePage(levelCount: number, column: Column, body: (page: ByteSink) => void): void {
    this.page.reset();
    body(this.page);
    writeDataPage(this.thrift, levelCount, column.encoding, this.page.written());
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
    writeFooter(this.thrift, {
      schema: SCHEMA,
      rows: this.rows,
      rowGroups: this.rowGroups,
      keyValues: [{ key: 'ARROW:schema', value: arrowSchema() }],
      createdBy: CREATED_BY,
    });
  }
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
    logical: 'string',
  },
  { name: 'sampling_rate', type: PhysicalType.double, repetition: Repetition.required },
  {
    name: 'units',
    type: PhysicalType.byteArray,
    repetition: Repetition.optional,
    converted: ConvertedType.utf8,
    logical: 'string',
  },
  { name: 'gain', type: PhysicalType.double, repetition: Repetition.required },
  { name: 'baseline', type: PhysicalType.int32, repetition: Repetition.required },
  {
    name: 'samples',
    repetition: Repetition.optional,
    children: 1,
    converted: ConvertedType.list,
    logical: 'list',
  },
  { name: 'list', repetition: Repetition.repeated, children: 1 },
  {
    name: 'item',
    type: PhysicalType.int32,
    repetition: Repetition.required,
    converted: ConvertedType.int16,
    logical: 'int16',
  },
];

let arrowSchemaBase64: string | undefined;

function arrowSchema(): string {
  arrowSchemaBase64 ??= arrowSchemaFooterValue(waveformTable([]));
  return arrowSchemaBase64;
}
