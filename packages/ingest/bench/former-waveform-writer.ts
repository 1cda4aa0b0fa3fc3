import { tableToIPC } from 'apache-arrow';
import {
  EnabledStatistics,
  Encoding,
  Table as ParquetTable,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';
import { type StoredWaveform, waveformTable } from '../src/tables.ts';

/**
 * The parquet-wasm settings ingest wrote waveform parts with before src/waveform-part.ts (kept for
 * the comparisons in bench/): int16 samples DELTA_BINARY_PACKED, no dictionary, no compression, no
 * statistics except study_id's chunk min/max, 768-row row groups. parquet-wasm can only address
 * top-level columns, so delta is the file-wide default and the float and string columns go PLAIN.
 */
function formerWaveformWriterProperties() {
  let builder = new WriterPropertiesBuilder()
    .setCreatedBy('enecg-ingest')
    .setDictionaryEnabled(false)
    .setEncoding(Encoding.DELTA_BINARY_PACKED)
    .setStatisticsEnabled(EnabledStatistics.None)
    .setColumnStatisticsEnabled('study_id', EnabledStatistics.Chunk)
    .setMaxRowGroupSize(768);
  for (const column of ['lead_name', 'units', 'gain', 'sampling_rate'])
    builder = builder.setColumnEncoding(column, Encoding.PLAIN);
  return builder.build();
}

/** A waveform part as ingest wrote it before: an Arrow table crossing into parquet-wasm as IPC. */
export function formerWaveformPart(rows: StoredWaveform[]): Uint8Array {
  const table = ParquetTable.fromIPCStream(tableToIPC(waveformTable(rows), 'stream'));
  return writeParquet(table, formerWaveformWriterProperties());
}
