/**
 * FLAC decoding speed against format 16, measured in the same run on the same samples: the 12-lead
 * fixture `flac12lead` (format 516 in 8 + 4 channel files, written by wfdb-python) and the same
 * signals re-encoded in memory as one interleaved format 16 file. Prints CPU-ms per record and the ratio.
 * Usage: npx tsx packages/ingest/bench/flac-decode.ts [rounds]   (pin with taskset -c 0 on a busy host)
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWfdbRecord, parseWfdbHeader, type WfdbHeader } from '../src/index.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/flac');
const rounds = Number(process.argv[2] ?? 3);

const headerFile = join(fixtures, 'flac12lead.hea');
const flacHeader = parseWfdbHeader(await readFile(headerFile, 'latin1'), headerFile);
const flacFiles = new Map<string, Uint8Array>();
for (const name of ['flac12lead.d0', 'flac12lead.d1']) {
  flacFiles.set(name, new Uint8Array(await readFile(join(fixtures, name))));
}

const decoded = decodeWfdbRecord(flacHeader, flacFiles, headerFile);
const leads = decoded.digital.length;
const interleaved = new Int16Array(decoded.sampleCount * leads);
decoded.digital.forEach((signal, lead) => {
  for (let i = 0; i < signal.length; i++) interleaved[i * leads + lead] = signal[i]!;
});
const format16Header: WfdbHeader = {
  ...flacHeader,
  signals: flacHeader.signals.map((spec) => ({ ...spec, format: 16, fileName: 'flac12lead.dat' })),
};
const format16Files = new Map([['flac12lead.dat', new Uint8Array(interleaved.buffer)]]);

function cpuMsPerRecord(header: WfdbHeader, files: Map<string, Uint8Array>, records: number): number {
  for (let i = 0; i < 100; i++) decodeWfdbRecord(header, files, headerFile);
  const start = process.cpuUsage();
  for (let i = 0; i < records; i++) decodeWfdbRecord(header, files, headerFile);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / records;
}

console.log(`12 leads x ${decoded.sampleCount} samples per record`);
for (let round = 1; round <= rounds; round++) {
  const flac = cpuMsPerRecord(flacHeader, flacFiles, 1000);
  const format16 = cpuMsPerRecord(format16Header, format16Files, 5000);
  console.log(
    `round ${round}: format 516 (FLAC) ${flac.toFixed(3)} CPU-ms/record, format 16 ${format16.toFixed(3)}, ` +
      `ratio ${(flac / format16).toFixed(1)}x`,
  );
}
