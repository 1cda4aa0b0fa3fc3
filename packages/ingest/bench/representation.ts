/**
 * Measures the two candidate waveform representations on the same records: int16 digital samples
 * plus gain (what ingest stores) against float32 millivolts. Reports Parquet bytes per record and
 * the CPU time to read a part back into `EcgRecord`s.
 */
import { Field, Float32, List, makeData, makeVector, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  Encoding,
  Table as ParquetTable,
  readParquet,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';
import { type StoredWaveform, storedWaveforms, waveformTable } from '../src/tables.ts';
import { WaveformPartWriter } from '../src/waveform-part.ts';
import { toEcgRecord } from '../src/waveforms.ts';

const waveformWriter = new WaveformPartWriter();

export interface RepresentationResult {
  name: string;
  kilobytesPerRecord: number;
  readCpuMsPerRecord: number;
}

function float32Table(rows: StoredWaveform[]): Table {
  const int16 = waveformTable(rows);
  const leads = rows.flatMap((row) => toEcgRecord(row).signals);
  const values = new Float32Array(leads.reduce((n, lead) => n + lead.length, 0));
  const offsets = new Int32Array(leads.length + 1);
  leads.forEach((lead, i) => {
    values.set(lead, offsets[i]!);
    offsets[i + 1] = offsets[i]! + lead.length;
  });
  const type = new List(new Field('item', new Float32(), false));
  const samples = makeVector(
    makeData({
      type,
      length: leads.length,
      nullCount: 0,
      valueOffsets: offsets,
      child: makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values }),
    }),
  );
  const columns: Record<string, ReturnType<Table['getChild']>> = {};
  for (const field of int16.schema.fields) columns[field.name] = int16.getChild(field.name);
  columns.samples = samples;
  return new Table(columns as never);
}

function float32Parquet(table: Table, encoding: Encoding): Uint8Array {
  let builder = new WriterPropertiesBuilder()
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(EnabledStatistics.None)
    .setCompression(Compression.ZSTD)
    .setEncoding(encoding);
  // Byte-stream-split only suits the float columns; the others stay PLAIN.
  for (const column of ['study_id', 'subject_id', 'lead_index', 'lead_name', 'units', 'baseline']) {
    builder = builder.setColumnEncoding(column, Encoding.PLAIN);
  }
  return writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), builder.build());
}

function cpuMs(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export function compareRepresentations(rows: StoredWaveform[]): RepresentationResult[] {
  const candidates: { name: string; bytes: Uint8Array; read: (bytes: Uint8Array) => void }[] = [
    {
      name: 'int16 + gain, DELTA_BINARY_PACKED (stored)',
      bytes: waveformWriter.encodeToBuffer(rows),
      read: (bytes) => {
        for (const row of storedWaveforms(tableFromIPC(readParquet(bytes).intoIPCStream()))) toEcgRecord(row);
      },
    },
    ...[
      ['float32 mV, BYTE_STREAM_SPLIT + zstd', Encoding.BYTE_STREAM_SPLIT],
      ['float32 mV, PLAIN + zstd', Encoding.PLAIN],
    ].map(([name, encoding]) => ({
      name: name as string,
      bytes: float32Parquet(float32Table(rows), encoding as Encoding),
      read: (bytes: Uint8Array) => {
        const table = tableFromIPC(readParquet(bytes).intoIPCStream());
        table.getChild('samples')!.data.map((chunk) => chunk.children[0]!.values);
      },
    })),
  ];
  return candidates.map(({ name, bytes, read }) => {
    read(bytes); // warm-up
    const rounds = 3;
    const ms = cpuMs(() => {
      for (let i = 0; i < rounds; i++) read(bytes);
    });
    return {
      name,
      kilobytesPerRecord: bytes.length / rows.length / 1000,
      readCpuMsPerRecord: ms / rounds / rows.length,
    };
  });
}
