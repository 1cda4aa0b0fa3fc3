/**
 * How the waveform Parquet writer was chosen: the same records written (a) by the hand-written
 * writer ingest uses (src/waveform-part.ts), (b) through apache-arrow and parquet-wasm, as ingest
 * did before, and (c) through DuckDB (@duckdb/node-api appender, then COPY TO Parquet). Reports CPU
 * milliseconds per record and bytes per record.
 *
 *   npx tsx bench/parquet-writers.ts [records]     # default 128 synthetic 12-lead 10 s records
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIST, SMALLINT } from '@duckdb/node-api';
import { sqlString, withDuckDB } from '@enecg/common';
import type { StoredWaveform } from '../src/tables.ts';
import { WaveformPartWriter } from '../src/waveform-part.ts';
import { formerWaveformPart } from './former-waveform-writer.ts';

const waveformWriter = new WaveformPartWriter();

const count = Number(process.argv[2] ?? 128);
const LEADS = ['I', 'II', 'III', 'aVR', 'aVF', 'aVL', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];

/** Seeded ECG-like signals: a few sinusoids plus small noise, as int16 adu at 200 adu/mV. */
function syntheticRecords(n: number): StoredWaveform[] {
  let state = 12345;
  const noise = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return (state % 5) - 2;
  };
  return Array.from({ length: n }, (_, r) => ({
    studyId: 40000000 + r,
    subjectId: 10000000 + r,
    samplingRate: 500,
    sampleCount: 5000,
    leadNames: LEADS,
    units: LEADS.map(() => 'mV'),
    gains: LEADS.map(() => 200),
    baselines: LEADS.map(() => 0),
    digital: LEADS.map((_, lead) =>
      Int16Array.from(
        { length: 5000 },
        (_, i) => Math.round(120 * Math.sin((i + r * 31) / (40 + lead)) + 30 * Math.sin(i / 7)) + noise(),
      ),
    ),
  }));
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const records = syntheticRecords(count);
const dir = await mkdtemp(join(tmpdir(), 'enecg-writers-'));

// Warm-up: one full pass each, so both are measured with optimised code.
waveformWriter.encodeToBuffer(records);
formerWaveformPart(records);
let start = process.cpuUsage();
const handBytes = waveformWriter.encodeToBuffer(records).length;
const handMs = cpuMs(start);
start = process.cpuUsage();
const arrowBytes = formerWaveformPart(records).length;
const arrowMs = cpuMs(start);

const duckFile = join(dir, 'duck.parquet');
start = process.cpuUsage();
await withDuckDB(
  async (c) => {
    await c.run('CREATE TABLE waveforms (study_id BIGINT, lead_index INTEGER, samples SMALLINT[])');
    const appender = await c.createAppender('waveforms');
    for (const record of records) {
      record.digital.forEach((samples, lead) => {
        appender.appendBigInt(BigInt(record.studyId));
        appender.appendInteger(lead);
        appender.appendList(Array.from(samples), LIST(SMALLINT));
        appender.endRow();
      });
    }
    appender.closeSync();
    await c.run(`COPY waveforms TO ${sqlString(duckFile)} (FORMAT parquet, COMPRESSION zstd)`);
  },
  { threads: 1 },
);
const duckMs = cpuMs(start);
const duckBytes = (await stat(duckFile)).size;
await rm(dir, { recursive: true, force: true });

const line = (name: string, ms: number, bytes: number) =>
  `${name.padEnd(44)} ${(ms / count).toFixed(3).padStart(8)} cpu-ms/record ${(bytes / count / 1000).toFixed(1).padStart(7)} KB/record`;
process.stdout.write(`${count} records\n`);
process.stdout.write(`${line('hand-written Parquet writer (chosen)', handMs, handBytes)}\n`);
process.stdout.write(`${line('apache-arrow + parquet-wasm (before)', arrowMs, arrowBytes)}\n`);
process.stdout.write(`${line('DuckDB appender + COPY TO parquet (zstd)', duckMs, duckBytes)}\n`);
process.stdout.write(
  `ratio: parquet-wasm path takes ${(arrowMs / handMs).toFixed(1)}x, DuckDB path ${(duckMs / handMs).toFixed(1)}x the CPU time\n`,
);
