/**
 * Which parquet-wasm writer settings change the cost of writing waveform parts: the stored settings
 * (src/parquet.ts) against non-nullable columns, 8 MB data pages, a write batch of 8,192 rows and
 * row groups of 3,072 rows, each on the same records in 64-record chunks as ingest writes them,
 * three rounds alternating (after a warm-up round) so that the host's noise shows. Reads the records bench/ingest.ts
 * generated (run it first).
 *
 *   npx tsx bench/waveform-writer-settings.ts [records]     # default 256
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STANDARD_LEADS } from '@enecg/common';
import { Field, makeData, RecordBatch, Schema, Struct, Table, tableToIPC } from 'apache-arrow';
import { Table as ParquetTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { readWfdbRecord } from '../src/index.ts';
import { waveformWriterSettings } from '../src/parquet.ts';
import { type StoredWaveform, waveformTable } from '../src/tables.ts';
import { toStoredWaveform } from '../src/validate.ts';

const source = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), '.work', 'bench', 'source');
const listPath = join(source, 'record_list.csv');
if (!existsSync(listPath)) throw new Error(`no records at ${source}: run npx tsx bench/ingest.ts first`);
const count = Number(process.argv[2] ?? 256);

const records: StoredWaveform[] = [];
for (const line of readFileSync(listPath, 'utf8')
  .trim()
  .split('\n')
  .slice(1, count + 1)) {
  const [subjectId, studyId, , , path] = line.split(',');
  const verdict = toStoredWaveform(
    await readWfdbRecord(join(source, path!)),
    { studyId: Number(studyId), subjectId: Number(subjectId) },
    { requiredLeads: STANDARD_LEADS },
  );
  if (verdict.ok) records.push(verdict.waveform);
}

function withoutNulls(table: Table): Table {
  const fields = table.schema.fields.map((f) => new Field(f.name, f.type, false));
  const schema = new Schema(fields);
  const batches = table.batches.map(
    (b) =>
      new RecordBatch(
        schema,
        makeData({ type: new Struct(fields), length: b.numRows, nullCount: 0, children: b.data.children }),
      ),
  );
  return new Table(schema, batches);
}

type Tweak = (builder: WriterPropertiesBuilder) => WriterPropertiesBuilder;
const variants: [string, (table: Table) => Table, Tweak][] = [
  ['stored settings', (t) => t, (b) => b],
  ['non-nullable columns', withoutNulls, (b) => b],
  ['8 MB data pages', (t) => t, (b) => b.setDataPageSizeLimit(8 << 20)],
  ['write batch 8192 rows', (t) => t, (b) => b.setWriteBatchSize(8192)],
  ['row groups of 3072 rows', (t) => t, (b) => b.setMaxRowGroupSize(3072)],
];
// Round 0 warms up (the wasm module's optimising tier) and is not printed.
for (let round = 0; round <= 3; round++) {
  for (const [name, reshape, tweak] of variants) {
    const start = process.cpuUsage();
    let bytes = 0;
    for (let i = 0; i < records.length; i += 64) {
      const table = reshape(waveformTable(records.slice(i, i + 64)));
      const properties = tweak(waveformWriterSettings(new WriterPropertiesBuilder())).build();
      bytes += writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), properties).length;
    }
    const used = process.cpuUsage(start);
    if (round === 0) continue;
    process.stdout.write(
      `round ${round}  ${name.padEnd(24)} ${((used.user + used.system) / 1000 / records.length).toFixed(3)} cpu-ms/record  ${(bytes / records.length / 1024).toFixed(1)} KB/record\n`,
    );
  }
}
