/**
 * Feature-caching throughput (ECGs/s) and peak RSS per expert and per backend (cpu vs wasm), at the
 * reference input sizes (12-lead 10 s 500 Hz records in; DLinear and TimesNet on lead II at 500
 * samples, raw-leads on lead II at 5000), through the real stage: preprocessing, the model, Parquet
 * parts and lineage. Each configuration runs in its own process so that its peak RSS is its own.
 *
 *   npx tsx bench/features.ts [--records N] [--experts dlinear,timesnet,raw-leads] [--backends cpu,wasm]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcgRecord } from '@enecg/common';
import type { BackendChoice } from '../src/backend/index.ts';
import { cacheFeaturesFrom } from '../src/features/index.ts';
import { syntheticRecords } from '../test/support/records.ts';

interface Measurement {
  expert: string;
  backend: string;
  records: number;
  seconds: number;
  ecgsPerSecond: number;
  peakRssMiB: number;
  embeddingSize: number;
}

const BATCH_SIZE = 16;

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

async function* inBatches(records: readonly EcgRecord[]): AsyncIterable<EcgRecord[]> {
  for (let i = 0; i < records.length; i += BATCH_SIZE) yield records.slice(i, i + BATCH_SIZE);
}

/** One configuration, in this process: a warm-up batch (not timed), then the timed run. */
async function measureOne(expert: string, backend: BackendChoice, count: number): Promise<Measurement> {
  const records = syntheticRecords(count + BATCH_SIZE, 2026);
  const warehouse = await mkdtemp(join(tmpdir(), 'enecg-bench-'));
  try {
    await cacheFeaturesFrom(() => inBatches(records.slice(count)), {
      warehouse,
      expert,
      backend,
      batchSize: BATCH_SIZE,
    });
    const started = performance.now();
    const summary = await cacheFeaturesFrom(() => inBatches(records.slice(0, count)), {
      warehouse,
      expert,
      backend,
      batchSize: BATCH_SIZE,
    });
    const seconds = (performance.now() - started) / 1000;
    return {
      expert,
      backend: summary.backend.tfBackend,
      records: summary.computed,
      seconds,
      ecgsPerSecond: summary.computed / seconds,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      embeddingSize: summary.embeddingSize,
    };
  } finally {
    await rm(warehouse, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const one = process.argv.indexOf('--one');
  if (one >= 0) {
    const [expert, backend, count] = process.argv.slice(one + 1, one + 4) as [string, BackendChoice, string];
    process.stdout.write(`${JSON.stringify(await measureOne(expert, backend, Number(count)))}\n`);
    return;
  }
  const records = Number(argument('records', '64'));
  const experts = argument('experts', 'dlinear,timesnet,raw-leads').split(',');
  const backends = argument('backends', 'cpu,wasm').split(',');
  const self = fileURLToPath(import.meta.url);
  const results: Measurement[] = [];
  for (const expert of experts) {
    for (const backend of backends) {
      // TimesNet on the pure-JS cpu backend runs about a second per record: fewer records keep the run short.
      const count =
        expert === 'timesnet' && backend === 'cpu' ? Math.max(8, Math.floor(records / 4)) : records;
      const output = execFileSync(
        process.execPath,
        ['--import', 'tsx', self, '--one', expert, backend, String(count)],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const measurement = JSON.parse(output.trim().split('\n').at(-1)!) as Measurement;
      results.push(measurement);
      process.stderr.write(`${expert} on ${backend}: ${measurement.ecgsPerSecond.toFixed(1)} ECGs/s\n`);
    }
  }
  console.log('\nexpert      backend  records  seconds   ECGs/s  peak RSS MiB  embedding');
  for (const r of results) {
    console.log(
      `${r.expert.padEnd(11)} ${r.backend.padEnd(8)} ${String(r.records).padStart(7)} ${r.seconds.toFixed(2).padStart(8)} ${r.ecgsPerSecond.toFixed(1).padStart(8)} ${r.peakRssMiB.toFixed(0).padStart(13)} ${String(r.embeddingSize).padStart(10)}`,
    );
  }
  console.log('\nwasm/cpu throughput ratio (baseline: cpu backend, same run):');
  for (const expert of experts) {
    const cpu = results.find((r) => r.expert === expert && r.backend === 'cpu');
    const wasm = results.find((r) => r.expert === expert && r.backend === 'wasm');
    if (cpu && wasm)
      console.log(`  ${expert.padEnd(11)} ${(wasm.ecgsPerSecond / cpu.ecgsPerSecond).toFixed(2)}x`);
  }
}

await main();
