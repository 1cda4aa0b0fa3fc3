/**
 * Backend x expert throughput (ECGs/s) and peak RSS at the demo default and the published sizes, with a
 * PyTorch peer of the same architectures as the baseline (bench/peers/torch_experts.py, run when torch
 * imports; otherwise the table says it skipped). Each configuration runs in its own process so that its
 * peak RSS is its own; every backend runs the same seeded 12-lead 10 s 500 Hz records through
 * `expert.embed` (preprocessing included: the peer times the model on inputs of the same shape only).
 *
 *   npx tsx bench/backends.ts [--backends node,wasm] [--experts moment,tempo,ecgfm,dlinear,timesnet]
 *                             [--sizes default,published] [--records 16] [--published-records 4]
 *
 * PyTorch runs with as many threads as TensorFlow gets (TF_NUM_INTRAOP_THREADS, default: the cores).
 * The peer's interpreter: ENECG_BENCH_PYTHON, else .tools/bench-venv/bin/python, else python3.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcgRecord } from '@enecg/common';
import { mulberry32, STANDARD_LEADS, toolsDir } from '@enecg/common';
import { type BackendChoice, backendLabel, installedBackends, selectBackend } from '../src/backend/index.ts';
import { createExpert } from '../src/experts/registry.ts';

/** The published sizes the registry knows by name; DLinear and TimesNet have one size (the reference's). */
const PUBLISHED: Record<string, Record<string, unknown> | undefined> = {
  moment: { size: 'small' },
  tempo: { size: 'full' },
  ecgfm: { size: 'full' },
  dlinear: undefined,
  timesnet: undefined,
};
const BATCH = 16;
const self = fileURLToPath(import.meta.url);

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

/** Seeded 10 s, 500 Hz, 12-lead ECG-like records (a beat train plus baseline wander and noise). */
function syntheticRecords(count: number): EcgRecord[] {
  const random = mulberry32(42);
  return Array.from({ length: count }, (_, r) => ({
    studyId: 1000 + r,
    subjectId: 1,
    samplingRate: 500,
    leadNames: [...STANDARD_LEADS],
    signals: STANDARD_LEADS.map((_, lead) =>
      Float32Array.from({ length: 5000 }, (_, i) => {
        const beat = Math.exp(-(((i % 430) - 200) ** 2) / 40) * (1 + lead / 12);
        return beat + 0.1 * Math.sin(i / 700 + lead) + 0.02 * (random() - 0.5);
      }),
    ),
  }));
}

interface Measurement {
  expert: string;
  size: string;
  backend: string;
  label: string;
  records: number;
  ecgsPerSecond: number;
  peakRssMiB: number;
  cpuPerWall: number;
}

/** One configuration, in this (child) process. */
async function child(expert: string, size: string, backend: BackendChoice, count: number): Promise<void> {
  const info = await selectBackend(backend);
  const config = size === 'published' ? PUBLISHED[expert] : undefined;
  const model = await createExpert(expert, { seed: 1, ...(config ? { config } : {}) });
  const records = syntheticRecords(count);
  await model.embed(records.slice(0, Math.min(2, count))); // warm-up: first allocations, kernel set-up
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < records.length; i += BATCH) await model.embed(records.slice(i, i + BATCH));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  model.dispose();
  const result: Measurement = {
    expert,
    size,
    backend,
    label: backendLabel(info)!,
    records: count,
    ecgsPerSecond: count / seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    cpuPerWall: (cpu.user + cpu.system) / 1e6 / seconds,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

interface PeerRow {
  expert: string;
  size: string;
  ecgsPerSecond: number;
  peakRssMiB: number;
  cpuPerWall: number;
}

function peerPython(): string {
  const venv = join(toolsDir(), 'bench-venv', 'bin', 'python');
  return process.env.ENECG_BENCH_PYTHON ?? (existsSync(venv) ? venv : 'python3');
}

/** The PyTorch peer's rows, or why it did not run. */
function torchPeer(experts: string[], sizes: string[], counts: Record<string, number>): PeerRow[] | string {
  const threads = process.env.TF_NUM_INTRAOP_THREADS ?? String(availableParallelism());
  const run = spawnSync(
    peerPython(),
    [
      fileURLToPath(new URL('./peers/torch_experts.py', import.meta.url)),
      '--experts',
      experts.join(','),
      '--sizes',
      sizes.join(','),
      '--records',
      String(counts.default),
      '--published-records',
      String(counts.published),
      '--threads',
      threads,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (run.error) return `its python did not start (${run.error.message})`;
  if (run.status !== 0) return `it failed: ${run.stderr.trim().split('\n').at(-1)}`;
  const lines = run.stdout.trim().split('\n');
  const skipped = lines.find((line) => line.startsWith('skipped'));
  if (skipped) return skipped;
  return lines.map((line) => JSON.parse(line) as PeerRow);
}

async function main(): Promise<void> {
  const backends = option(
    'backends',
    installedBackends()
      .filter((b) => b !== 'cpu')
      .join(','),
  ).split(',') as BackendChoice[];
  const experts = option('experts', Object.keys(PUBLISHED).join(',')).split(',');
  const sizes = option('sizes', 'default,published').split(',');
  const counts = {
    default: Number(option('records', '16')),
    published: Number(option('published-records', '4')),
  };
  console.log(
    `backends ${backends.join(', ')}; ${availableParallelism()} cores, TF_NUM_INTRAOP_THREADS=${process.env.TF_NUM_INTRAOP_THREADS ?? '(cores)'}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const rows: Measurement[] = [];
  for (const size of sizes) {
    for (const expert of experts) {
      if (size === 'published' && PUBLISHED[expert] === undefined) continue; // one size: measured as default
      for (const backend of backends) {
        const out = execFileSync(
          process.execPath,
          [...process.execArgv, self, '--child', expert, size, backend, String(counts[size as 'default'])],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
        );
        const row = JSON.parse(out.trim().split('\n').at(-1)!) as Measurement;
        rows.push(row);
        console.log(
          `  ${expert.padEnd(8)} ${size.padEnd(9)} ${backend.padEnd(5)} ${row.ecgsPerSecond.toFixed(2).padStart(8)} ECGs/s  RSS ${row.peakRssMiB.toFixed(0).padStart(5)} MiB  CPU/wall ${row.cpuPerWall.toFixed(2)}`,
        );
      }
    }
  }
  const peer = torchPeer(experts, sizes, counts);
  if (typeof peer === 'string') console.log(`PyTorch peer skipped: ${peer}`);
  const peerRow = (row: Measurement) =>
    typeof peer === 'string' ? undefined : peer.find((p) => p.expert === row.expert && p.size === row.size);
  // On a shared machine a process may get less than its cores: ECGs per CPU-second is the steadier figure.
  const perCpu = (r: { ecgsPerSecond: number; cpuPerWall: number }) => r.ecgsPerSecond / r.cpuPerWall;
  console.log(
    '\n| expert | size | backend | ECGs/s | ECGs/CPU-s | peak RSS MiB | torch ECGs/s | torch ECGs/CPU-s | torch RSS MiB | vs torch (ECGs/s, ECGs/CPU-s, RSS) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const p = peerRow(row);
    const cells = p
      ? [
          p.ecgsPerSecond.toFixed(2),
          perCpu(p).toFixed(2),
          p.peakRssMiB.toFixed(0),
          `${(row.ecgsPerSecond / p.ecgsPerSecond).toFixed(2)}x, ${(perCpu(row) / perCpu(p)).toFixed(2)}x, ${(row.peakRssMiB / p.peakRssMiB).toFixed(2)}x`,
        ]
      : ['-', '-', '-', '-'];
    console.log(
      `| ${row.expert} | ${row.size} | ${row.backend} | ${row.ecgsPerSecond.toFixed(2)} | ${perCpu(row).toFixed(2)} | ${row.peakRssMiB.toFixed(0)} | ${cells.join(' | ')} |`,
    );
  }
  console.log(JSON.stringify({ rows, peer }));
}

if (process.argv[2] === '--child') {
  const [expert, size, backend, count] = process.argv.slice(3);
  await child(expert!, size!, backend as BackendChoice, Number(count));
} else {
  await main();
}
