import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { produceFileAtomic } from '@enecg/common';
import { arrowSchemaFooterValue, type WrittenFile } from './parquet.ts';
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
export const WAVEFORM_PART_LAYOUT: WaveformPartLayout = { rowGroupRecords: 64, pageValues: 1 << 20 };

const CREATED_BY = 'enecg-ingest';

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
          values = this.writeSamplePages(leads.map(({ record, lead }) => record.digital[lead]!));
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
    const repetition = beginLevels(page);
    const repetitionRuns = new LevelRuns(page, 1);
    for (const lead of leads) {
      repetitionRuns.add(0, 1);
      repetitionRuns.add(1, Math.max(lead.length - 1, 0));
    }
    repetitionRuns.finish();
    endLevels(page, repetition);
    const definition = beginLevels(page);
    const definitionRuns = new LevelRuns(page, 2);
    for (const lead of leads) {
      if (lead.length === 0) definitionRuns.add(1, 1);
      else definitionRuns.add(2, lead.length);
    }
    definitionRuns.finish();
    endLevels(page, definition);
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
      leafColumns: COLUMNS.length,
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
