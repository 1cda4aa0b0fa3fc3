/**
 * Ingest benchmark: ECGs per second and peak RSS on one core (each run pinned with taskset) for
 * 2,000 and 20,000 synthetic MIMIC-IV-ECG records, against wfdb-python reading and converting the
 * same files in the same run. Also compares the int16 and float32 waveform representations.
 *
 *   npm run bench -w @enecg/ingest                 # 2,000 and 20,000 records
 *   npx tsx bench/ingest.ts --counts 500,2000      # other sizes
 *
 * The wfdb-python baseline needs `bash tools/setup-bench-python.sh` (a git-ignored venv under
 * .tools/); without it the comparison is skipped with a message. Throughput is reported per CPU
 * second (user + system) as well as per wall second: on a shared machine the wall clock measures the
 * neighbours, CPU time measures the code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STANDARD_LEADS } from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { readWfdbRecord } from '../src/index.ts';
import { toStoredWaveform } from '../src/validate.ts';
import { compareRepresentations } from './representation.ts';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const workDir = join(packageDir, '.work', 'bench');
const python = join(packageDir, '.tools', 'bench-venv', 'bin', 'python');
const SEED = 20251125;

interface Measurement {
  records: number;
  wallSeconds: number;
  cpuSeconds: number;
  maxRssMB: number;
}

function parseCounts(): number[] {
  const flag = process.argv.indexOf('--counts');
  const text = flag >= 0 ? process.argv[flag + 1] : '2000,20000';
  const counts = (text ?? '').split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--counts: expected e.g. 2000,20000, got ${text}`);
  return counts.sort((a, b) => a - b);
}

/** One synthetic source big enough for the largest count; smaller counts use a prefix of its list. */
async function prepareSource(largest: number): Promise<{ source: string; rows: string[] }> {
  const source = join(workDir, 'source');
  const listPath = join(source, 'record_list.csv');
  if (existsSync(listPath)) {
    const rows = (await readFile(listPath, 'utf8')).trim().split('\n');
    if (rows.length - 1 >= largest) return { source, rows };
  }
  // About two ECGs per subject; grow until the list is long enough.
  for (let subjects = Math.ceil(largest / 1.9); ; subjects = Math.ceil(subjects * 1.1)) {
    process.stderr.write(`generating ${subjects} synthetic subjects into ${source} ...\n`);
    const summary = await generateSynthetic({ subjects, outDir: source, seed: SEED, overwrite: true });
    if (summary.records >= largest) break;
  }
  return { source, rows: (await readFile(listPath, 'utf8')).trim().split('\n') };
}

/**
 * Reads every listed record's files once, unmeasured, so that each contender reads them from the page
 * cache: otherwise whichever runs first pays for the disk (ingest did, and looked up to 20% slower).
 */
async function warmPageCache(source: string, listRows: readonly string[]): Promise<void> {
  for (const line of listRows) {
    const path = join(source, line.split(',')[4]!);
    await readFile(`${path}.hea`);
    await readFile(`${path}.dat`);
  }
}

function pinnedRun(command: string, args: string[]): Measurement {
  const output = execFileSync('taskset', ['-c', '0', command, ...args], {
    cwd: packageDir,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(output.trim().split('\n').at(-1)!) as Measurement;
}

function wfdbPythonAvailable(): boolean {
  if (!existsSync(python)) return false;
  try {
    execFileSync(python, ['-c', 'import wfdb'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tsx = join(packageDir, '..', '..', 'node_modules', '.bin', 'tsx');

function row(label: string, m: Measurement): string {
  return [
    label.padEnd(34),
    String(m.records).padStart(7),
    (m.records / m.cpuSeconds).toFixed(0).padStart(10),
    (m.records / m.wallSeconds).toFixed(0).padStart(10),
    m.maxRssMB.toFixed(0).padStart(8),
  ].join('  ');
}

async function main() {
  const counts = parseCounts();
  const { source, rows } = await prepareSource(counts.at(-1)!);
  const hasPython = wfdbPythonAvailable();
  if (!hasPython) {
    process.stdout.write(
      `wfdb-python comparison skipped: no venv at ${python} (run bash tools/setup-bench-python.sh)\n`,
    );
  }
  process.stdout.write(
    `host: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, load ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}; every run pinned to core 0\n\n`,
  );
  process.stdout.write(
    `${['run'.padEnd(34), 'records'.padStart(7), 'ECG/cpu-s'.padStart(10), 'ECG/wall-s'.padStart(10), 'peakMB'.padStart(8)].join('  ')}\n`,
  );
  const summary: string[] = [];
  for (const count of counts) {
    const list = `record_list.bench-${count}.csv`;
    await writeFile(join(source, list), `${rows.slice(0, count + 1).join('\n')}\n`);
    const warehouse = join(workDir, `warehouse-${count}`);
    await rm(warehouse, { recursive: true, force: true });
    await warmPageCache(source, rows.slice(1, count + 1));
    const ingested = pinnedRun(tsx, ['bench/run-once.ts', 'ingest', source, list, warehouse]);
    process.stdout.write(`${row(`ingest -> Parquet (${count})`, ingested)}\n`);
    const read = pinnedRun(tsx, ['bench/run-once.ts', 'read', source, list]);
    process.stdout.write(`${row(`enecg WFDB reader (${count})`, read)}\n`);
    if (hasPython) {
      const baseline = pinnedRun(python, ['bench/wfdb_python_read.py', source, list]);
      process.stdout.write(`${row(`wfdb-python rdrecord (${count})`, baseline)}\n`);
      const ratio = (m: Measurement) =>
        (m.records / m.cpuSeconds / (baseline.records / baseline.cpuSeconds)).toFixed(2);
      summary.push(
        `${count}: full ingest ${ratio(ingested)}x wfdb-python, reader alone ${ratio(read)}x wfdb-python (per CPU second)`,
      );
    }
    summary.push(`${count}: ingest peak RSS ${ingested.maxRssMB.toFixed(0)} MB`);
  }
  process.stdout.write(`\n${summary.join('\n')}\n\nwaveform representation (first 256 records):\n`);
  const stored = [];
  for (const line of rows.slice(1, 257)) {
    const [subjectId, studyId, , , path] = line.split(',');
    const record = await readWfdbRecord(join(source, path!));
    const verdict = toStoredWaveform(
      record,
      { studyId: Number(studyId), subjectId: Number(subjectId) },
      { requiredLeads: STANDARD_LEADS },
    );
    if (verdict.ok) stored.push(verdict.waveform);
  }
  for (const result of compareRepresentations(stored)) {
    process.stdout.write(
      `  ${result.name.padEnd(44)} ${result.kilobytesPerRecord.toFixed(1).padStart(7)} KB/record  read ${result.readCpuMsPerRecord.toFixed(3)} cpu-ms/record\n`,
    );
  }
}

await mkdir(workDir, { recursive: true });
await main();
