/**
 * Throughput of the MOMENT, TEMPO and ECG-FM experts per TensorFlow.js backend, at the reference input
 * sizes (MOMENT 12 leads x 512, TEMPO lead II x 336, ECG-FM 12 leads x 5000 = two 5 s segments), for the
 * tiny demo configs and the full-size configs with seeded random weights; plus the memory the full-size
 * weights need (float32, from parameter counts) and what a loaded expert holds on the backend.
 *
 *   npx tsx bench/experts.ts [--backends wasm,cpu] [--full-backends wasm] [--sizes tiny,full]
 *                            [--experts moment,tempo,ecgfm] [--records 8] [--full-records 2]
 *
 * The cpu backend is the baseline: each row prints the wasm / cpu throughput ratio measured in this run.
 * Full-size models run on wasm only by default: the pure-JS cpu backend needs minutes per ECG there
 * (add `--full-backends wasm,cpu` to measure it anyway).
 */
import type { EcgRecord } from '@enecg/common';
import { mulberry32, STANDARD_LEADS } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.ts';
import { ECGFM_PRESETS, ecgfmWeightSpecs } from '../src/experts/ecgfm/model.ts';
import { parameterCount } from '../src/experts/layers/weights.ts';
import { MOMENT_PRESETS, momentWeightSpecs } from '../src/experts/moment/model.ts';
import { createExpert } from '../src/experts/registry.ts';
import { TEMPO_PRESETS, tempoWeightSpecs } from '../src/experts/tempo/model.ts';

const FULL_SIZE: Record<string, string> = { moment: 'small', tempo: 'full', ecgfm: 'full' };

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

interface Row {
  expert: string;
  size: string;
  backend: string;
  records: number;
  seconds: number;
  ecgsPerSecond: number;
  loadSeconds: number;
  backendMiB: number;
}

async function measure(
  expertName: string,
  size: string,
  backend: string,
  records: EcgRecord[],
): Promise<Row> {
  await selectBackend(backend as 'wasm' | 'cpu');
  const before = tf.memory().numBytes;
  const loadStart = performance.now();
  const expert = await createExpert(expertName, { seed: 1, config: { size } });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const backendMiB = (tf.memory().numBytes - before) / 2 ** 20;
  await expert.embed(records.slice(0, 1)); // warm-up: kernel compilation, first allocations
  const start = performance.now();
  await expert.embed(records);
  const seconds = (performance.now() - start) / 1000;
  expert.dispose();
  return {
    expert: expertName,
    size,
    backend,
    records: records.length,
    seconds,
    ecgsPerSecond: records.length / seconds,
    loadSeconds,
    backendMiB,
  };
}

function weightMemory(): { expert: string; size: string; parameters: number; float32MiB: number }[] {
  const rows = [
    ...['small', 'base', 'large'].map((size) => ({
      expert: 'moment',
      size,
      parameters: parameterCount(momentWeightSpecs(MOMENT_PRESETS[size]!)),
    })),
    { expert: 'tempo', size: 'full', parameters: parameterCount(tempoWeightSpecs(TEMPO_PRESETS.full!)) },
    { expert: 'ecgfm', size: 'full', parameters: parameterCount(ecgfmWeightSpecs(ECGFM_PRESETS.full!)) },
  ];
  return rows.map((row) => ({ ...row, float32MiB: (row.parameters * 4) / 2 ** 20 }));
}

async function main(): Promise<void> {
  const backends = option('backends', 'wasm,cpu').split(',');
  const fullBackends = option('full-backends', 'wasm').split(',');
  const sizes = option('sizes', 'tiny,full').split(',');
  const experts = option('experts', 'moment,tempo,ecgfm').split(',');
  const tinyRecords = syntheticRecords(Number(option('records', '8')));
  const fullRecords = tinyRecords.slice(0, Number(option('full-records', '2')));

  console.log('Full-size weights (the embedding path, float32; MOMENT excludes T5 token table and head):');
  for (const row of weightMemory()) {
    console.log(
      `  ${row.expert.padEnd(7)} ${row.size.padEnd(6)} ${(row.parameters / 1e6).toFixed(2).padStart(7)} M params  ${row.float32MiB.toFixed(1).padStart(7)} MiB`,
    );
  }

  const rows: Row[] = [];
  for (const size of sizes) {
    for (const expertName of experts) {
      const modelSize = size === 'full' ? FULL_SIZE[expertName]! : 'tiny';
      for (const backend of size === 'full' ? fullBackends : backends) {
        const row = await measure(
          expertName,
          modelSize,
          backend,
          size === 'full' ? fullRecords : tinyRecords,
        );
        rows.push(row);
        const baseline = rows.find(
          (r) => r.expert === row.expert && r.size === row.size && r.backend === 'cpu',
        );
        const ratio =
          baseline && row.backend !== 'cpu'
            ? `  ${(row.ecgsPerSecond / baseline.ecgsPerSecond).toFixed(1)}x cpu`
            : '';
        console.log(
          `${row.expert.padEnd(7)} ${row.size.padEnd(6)} ${row.backend.padEnd(5)} ${row.ecgsPerSecond.toFixed(2).padStart(9)} ECGs/s  (${row.records} in ${row.seconds.toFixed(2)} s; load ${row.loadSeconds.toFixed(1)} s, ${row.backendMiB.toFixed(1)} MiB on backend)${ratio}`,
        );
      }
    }
  }
  console.log('Ratios against the cpu baseline of the same run:');
  for (const row of rows.filter((r) => r.backend !== 'cpu')) {
    const baseline = rows.find((r) => r.expert === row.expert && r.size === row.size && r.backend === 'cpu');
    if (baseline)
      console.log(
        `  ${row.expert} ${row.size}: ${row.backend} ${(row.ecgsPerSecond / baseline.ecgsPerSecond).toFixed(1)}x cpu`,
      );
  }
  console.log(JSON.stringify({ weights: weightMemory(), throughput: rows }));
}

await main();
