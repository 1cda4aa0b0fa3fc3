import {
  type Data,
  Field,
  Float64,
  Int16,
  Int64,
  List,
  makeData,
  makeVector,
  Table,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { arrowSchemaFooterValue, CREATED_BY } from './parquet.ts';
import type { RowTableFile } from './parquet-format/row-table.ts';

/**
 * One stored ECG: digital samples (adu) per lead plus what turns them into millivolts. Samples are
 * int16 because every MIMIC-IV-ECG signal is 16-bit; invalid samples hold `STORED_INVALID`.
 */
export interface StoredWaveform {
  studyId: number;
  subjectId: number;
  samplingRate: number;
  sampleCount: number;
  leadNames: string[];
  units: string[];
  gains: number[];
  baselines: number[];
  digital: Int16Array[];
}

/** The int16 value that marks an invalid (missing) sample in the waveform store. */
export const STORED_INVALID = -32768;

/** One row of `records/`: the catalog of ingested records (latest `version` per study wins). */
export interface CatalogRow {
  studyId: number;
  subjectId: number;
  /** `YYYY-MM-DD HH:MM:SS` as listed in record_list.csv, or null when the listing has none. */
  ecgTime: string | null;
  samplingRate: number;
  sampleCount: number;
  leadNames: string[];
  /** Record path relative to the source, as listed. */
  sourcePath: string;
  /** sha256 over the header bytes followed by each signal file's bytes, in header order. */
  contentSha256: string;
  ingestRunId: string;
  /** 1 for the first ingest of a study, +1 each time its content changes. */
  version: number;
  /** Waveform part (file name inside `waveforms/`) holding this version's samples. */
  waveformFile: string;
}

/** One row of `quarantine/`: a listed record that was not ingested, and why. */
export interface QuarantineRow {
  sourcePath: string;
  studyId: number | null;
  subjectId: number | null;
  /** The file at fault (the record list, a header or a signal file), relative to the source. */
  file: string;
  record: string;
  field: string;
  /** Machine-readable kind, e.g. `checksum-mismatch`, `missing-signal-file`. */
  problem: string;
  reason: string;
  /** Hash of the files that could be read; null when none could. */
  contentSha256: string | null;
  ingestRunId: string;
}

const utf8List = () => new List(new Field('item', new Utf8(), false));

function int64(values: number[]) {
  return makeVector(BigInt64Array.from(values, (v) => BigInt(v)));
}

function nullableInt64(values: (number | null)[]) {
  return vectorFromArray(
    values.map((v) => (v === null ? null : BigInt(v))),
    new Int64(),
  );
}

/** `YYYY-MM-DD HH:MM:SS` (MIMIC's shifted dates, read as UTC) to a Date; null when unparsable. */
function parseEcgTime(text: string | null): Date | null {
  if (text === null) return null;
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(text);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0)));
}

export function catalogTable(rows: CatalogRow[]): Table {
  return new Table({
    study_id: int64(rows.map((r) => r.studyId)),
    subject_id: int64(rows.map((r) => r.subjectId)),
    ecg_time: vectorFromArray(
      rows.map((r) => parseEcgTime(r.ecgTime)),
      new TimestampMillisecond(),
    ),
    sampling_rate: vectorFromArray(
      rows.map((r) => r.samplingRate),
      new Float64(),
    ),
    sample_count: makeVector(Int32Array.from(rows, (r) => r.sampleCount)),
    lead_names: vectorFromArray(
      rows.map((r) => r.leadNames),
      utf8List(),
    ),
    source_path: vectorFromArray(
      rows.map((r) => r.sourcePath),
      new Utf8(),
    ),
    content_sha256: vectorFromArray(
      rows.map((r) => r.contentSha256),
      new Utf8(),
    ),
    ingest_run_id: vectorFromArray(
      rows.map((r) => r.ingestRunId),
      new Utf8(),
    ),
    version: makeVector(Int32Array.from(rows, (r) => r.version)),
    waveform_file: vectorFromArray(
      rows.map((r) => r.waveformFile),
      new Utf8(),
    ),
  });
}

export function quarantineTable(rows: QuarantineRow[]): Table {
  const text = (pick: (r: QuarantineRow) => string | null) => vectorFromArray(rows.map(pick), new Utf8());
  return new Table({
    source_path: text((r) => r.sourcePath),
    study_id: nullableInt64(rows.map((r) => r.studyId)),
    subject_id: nullableInt64(rows.map((r) => r.subjectId)),
    file: text((r) => r.file),
    record: text((r) => r.record),
    field: text((r) => r.field),
    problem: text((r) => r.problem),
    reason: text((r) => r.reason),
    content_sha256: text((r) => r.contentSha256),
    ingest_run_id: text((r) => r.ingestRunId),
  });
}

/**
 * The catalog part as written (by our own row-table writer): the same columns, Parquet types and
 * nullability as `catalogTable`, whose Arrow schema goes in the footer. study_id carries min/max
 * statistics so DuckDB can skip parts when looking up studies.
 */
export const catalogPart: () => RowTableFile<CatalogRow> = once(() => ({
  columns: [
    { name: 'study_id', kind: 'int64', nullable: false, statistics: true, value: (r) => r.studyId },
    { name: 'subject_id', kind: 'int64', nullable: false, value: (r) => r.subjectId },
    {
      name: 'ecg_time',
      kind: 'timestamp-millis',
      nullable: true,
      value: (r) => parseEcgTime(r.ecgTime)?.getTime() ?? null,
    },
    { name: 'sampling_rate', kind: 'double', nullable: true, value: (r) => r.samplingRate },
    { name: 'sample_count', kind: 'int32', nullable: false, value: (r) => r.sampleCount },
    { name: 'lead_names', kind: 'string-list', value: (r) => r.leadNames },
    { name: 'source_path', kind: 'string', nullable: true, value: (r) => r.sourcePath },
    { name: 'content_sha256', kind: 'string', nullable: true, value: (r) => r.contentSha256 },
    { name: 'ingest_run_id', kind: 'string', nullable: true, value: (r) => r.ingestRunId },
    { name: 'version', kind: 'int32', nullable: false, value: (r) => r.version },
    { name: 'waveform_file', kind: 'string', nullable: true, value: (r) => r.waveformFile },
  ],
  keyValues: [{ key: 'ARROW:schema', value: arrowSchemaFooterValue(catalogTable([])) }],
  createdBy: CREATED_BY,
}));

/** The quarantine part as written: `quarantineTable`'s columns, every one nullable. */
export const quarantinePart: () => RowTableFile<QuarantineRow> = once(() => {
  const text = (name: string, value: (r: QuarantineRow) => string | null) =>
    ({ name, kind: 'string', nullable: true, value }) as const;
  return {
    columns: [
      text('source_path', (r) => r.sourcePath),
      { name: 'study_id', kind: 'int64', nullable: true, statistics: true, value: (r) => r.studyId },
      { name: 'subject_id', kind: 'int64', nullable: true, value: (r) => r.subjectId },
      text('file', (r) => r.file),
      text('record', (r) => r.record),
      text('field', (r) => r.field),
      text('problem', (r) => r.problem),
      text('reason', (r) => r.reason),
      text('content_sha256', (r) => r.contentSha256),
      text('ingest_run_id', (r) => r.ingestRunId),
    ],
    keyValues: [{ key: 'ARROW:schema', value: arrowSchemaFooterValue(quarantineTable([])) }],
    createdBy: CREATED_BY,
  };
});

/** The value of `make()`, computed on first use (the Arrow schemas cost a little to serialise). */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/**
 * Waveforms, one row per lead: `study_id, subject_id, lead_index, lead_name, sampling_rate, units,
 * gain, baseline, samples list<int16>`. A row per lead keeps every float and string column top-level
 * (see parquet.ts) and lets SQL pick a lead by name. The sample buffers are concatenated once into a
 * single Int16Array that Arrow wraps without further copies.
 */
export function waveformTable(rows: StoredWaveform[]): Table {
  let leadCount = 0;
  let sampleTotal = 0;
  for (const row of rows) {
    leadCount += row.digital.length;
    for (const lead of row.digital) sampleTotal += lead.length;
  }
  const values = new Int16Array(sampleTotal);
  const offsets = new Int32Array(leadCount + 1);
  const perLead = <T>(pick: (row: StoredWaveform, lead: number) => T): T[] => {
    const out: T[] = [];
    for (const row of rows) for (let lead = 0; lead < row.digital.length; lead++) out.push(pick(row, lead));
    return out;
  };
  let lead = 0;
  let position = 0;
  for (const row of rows) {
    for (const samples of row.digital) {
      values.set(samples, position);
      position += samples.length;
      offsets[++lead] = position;
    }
  }
  const leadType = new List(new Field('item', new Int16(), false));
  const samples = makeData({
    type: leadType,
    length: leadCount,
    nullCount: 0,
    valueOffsets: offsets,
    child: makeData({ type: new Int16(), length: sampleTotal, nullCount: 0, data: values }),
  });
  return new Table({
    study_id: int64(perLead((r) => r.studyId)),
    subject_id: int64(perLead((r) => r.subjectId)),
    lead_index: makeVector(Int32Array.from(perLead((_, i) => i))),
    lead_name: vectorFromArray(
      perLead((r, i) => r.leadNames[i]!),
      new Utf8(),
    ),
    sampling_rate: makeVector(Float64Array.from(perLead((r) => r.samplingRate))),
    units: vectorFromArray(
      perLead((r, i) => r.units[i]!),
      new Utf8(),
    ),
    gain: makeVector(Float64Array.from(perLead((r, i) => r.gains[i]!))),
    baseline: makeVector(Int32Array.from(perLead((r, i) => r.baselines[i]!))),
    samples: makeVector(samples),
  });
}

/**
 * Rows of a waveform table regrouped into `StoredWaveform`s (consecutive rows of one study). Lead
 * arrays are views into the table's buffers (no copy).
 */
export function* storedWaveforms(table: Table): Generator<StoredWaveform> {
  const column = <T>(name: string) => table.getChild(name)!.toArray() as T;
  const studyIds = column<BigInt64Array>('study_id');
  const subjectIds = column<BigInt64Array>('subject_id');
  const rates = column<Float64Array>('sampling_rate');
  const gains = column<Float64Array>('gain');
  const baselines = column<Int32Array>('baseline');
  const leadNames = table.getChild('lead_name')!;
  const units = table.getChild('units')!;
  let current: StoredWaveform | undefined;
  let row = 0;
  for (const chunk of table.getChild('samples')!.data as Data<List>[]) {
    const sampleData = chunk.children[0]!;
    const values = (sampleData.values as Int16Array).subarray(sampleData.offset);
    for (let i = 0; i < chunk.length; i++, row++) {
      const studyId = Number(studyIds[row]);
      if (current?.studyId !== studyId) {
        if (current !== undefined) yield current;
        current = {
          studyId,
          subjectId: Number(subjectIds[row]),
          samplingRate: rates[row]!,
          sampleCount: 0,
          leadNames: [],
          units: [],
          gains: [],
          baselines: [],
          digital: [],
        };
      }
      const start = chunk.valueOffsets[chunk.offset + i]!;
      const end = chunk.valueOffsets[chunk.offset + i + 1]!;
      current.digital.push(values.subarray(start, end));
      current.sampleCount = end - start;
      current.leadNames.push(leadNames.get(row) as string);
      current.units.push(units.get(row) as string);
      current.gains.push(gains[row]!);
      current.baselines.push(baselines[row]!);
    }
  }
  if (current !== undefined) yield current;
}
