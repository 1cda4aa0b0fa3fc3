/**
 * The waveform part writer against the one it replaced, on the same records (read from the source
 * bench/ingest.ts generates; run it first): the hand-written Parquet writer (src/waveform-part.ts)
 * and apache-arrow + parquet-wasm with the settings ingest used (int16 DELTA_BINARY_PACKED, no
 * dictionary, no compression, study_id chunk statistics, 768-row row groups, 64-record chunks).
 * CPU milliseconds per record to write and to read back into `EcgRecord`s (readWaveforms' path:
 * parquet-wasm -> Arrow -> mV), KB per record; rounds alternate after a warm-up so the host's
 * noise shows.
 *
 *   npx tsx bench/waveform-writers.ts [records]     # default 256
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STANDARD_LEADS } from '@enecg/common';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { readWfdbRecord } from '../src/index.ts';
import { type StoredWaveform, storedWaveforms } from '../src/tables.ts';
import { toStoredWaveform } from '../src/validate.ts';
import { WaveformPartWriter } from '../src/waveform-part.ts';
import { toEcgRecord } from '../src/waveforms.ts';
import { formerWaveformPart } from './former-waveform-writer.ts';

const waveformWriter = new WaveformPartWriter();

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

function readBack(bytes: Uint8Array): number {
  let leads = 0;
  for (const row of storedWaveforms(tableFromIPC(readParquet(bytes).intoIPCStream())))
    leads += toEcgRecord(row).signals.length;
  return leads;
}

function cpuMs(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const writers = [
  {
    name: 'hand-written Parquet writer (ingest)',
    write: (rows: StoredWaveform[]) => waveformWriter.encodeToBuffer(rows),
  },
  { name: 'apache-arrow + parquet-wasm (before)', write: formerWaveformPart },
];
const results = writers.map(() => ({ write: [] as number[], read: [] as number[], bytes: 0 }));
for (let round = 0; round < 4; round++) {
  writers.forEach(({ write }, i) => {
    let bytes: Uint8Array = new Uint8Array();
    const writeMs = cpuMs(() => {
      bytes = write(records);
    });
    const readMs = cpuMs(() => readBack(bytes));
    if (round === 0) return; // warm-up
    results[i]!.write.push(writeMs / records.length);
    results[i]!.read.push(readMs / records.length);
    results[i]!.bytes = bytes.length;
  });
}
process.stdout.write(`${records.length} records, 3 rounds after a warm-up, CPU ms per record:\n`);
writers.forEach(({ name }, i) => {
  const { write, read, bytes } = results[i]!;
  const list = (values: number[]) => values.map((v) => v.toFixed(3)).join(' ');
  process.stdout.write(
    `  ${name.padEnd(40)} write ${list(write)}  read ${list(read)}  ${(bytes / records.length / 1000).toFixed(1)} KB/record\n`,
  );
});
