/**
 * ECGs generated per second on one core (Node runs the generator on one thread), against two baselines
 * measured in the same run. Rates are given per wall-clock second and per CPU second of this process
 * (user + system), the latter being the fair number on a shared, loaded machine:
 *  - write-only: writing the same number of ready-made .hea/.dat pairs into the same folder layout,
 *    the I/O floor any generator pays;
 *  - synthesis-only: the signal model without any file writing.
 * Usage: npx tsx bench/generate.ts [subjects=300]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../src/index.ts';
import { drawSubjectTraits, synthesizeEcg } from '../src/physiology.ts';
import { Rng } from '../src/random.ts';

const subjects = Number(process.argv[2] ?? 300);

interface Timing {
  wallSeconds: number;
  cpuSeconds: number;
}

async function timed(work: () => unknown): Promise<Timing> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { wallSeconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}
const root = await mkdtemp(join(tmpdir(), 'enecg-synth-bench-'));

try {
  // Warm up the JIT on a small dataset first, so that the timed run measures steady state.
  await generateSynthetic({ subjects: 20, outDir: join(root, 'warmup'), seed: 1 });

  let records = 0;
  const generate = await timed(async () => {
    records = (await generateSynthetic({ subjects, outDir: join(root, 'generated'), seed: 42 })).records;
  });

  const recordList = (await readFile(join(root, 'generated', 'record_list.csv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1);
  const samplePath = join(root, 'generated', recordList[0]!.split(',')[4]!);
  const header = await readFile(`${samplePath}.hea`);
  const dat = await readFile(`${samplePath}.dat`);
  const write = await timed(() => {
    for (const line of recordList) {
      const path = join(root, 'copied', line.split(',')[4]!);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(`${path}.hea`, header);
      writeFileSync(`${path}.dat`, dat);
    }
  });

  const rng = new Rng(7);
  const traits = drawSubjectTraits(rng, false);
  const synthesis = await timed(() => {
    for (let i = 0; i < records; i++) {
      synthesizeEcg(rng, {
        arrhythmiaClass: i % 15,
        otherRhythm: 'flutter',
        ageYears: 60,
        potassium: 4.2,
        traits,
      });
    }
  });

  const rates = (t: Timing): string =>
    `${(records / t.wallSeconds).toFixed(0)} ECGs/s wall, ${(records / t.cpuSeconds).toFixed(0)} ECGs/s per CPU second`;
  console.log(
    `records: ${records} (${subjects} subjects), node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(`generateSynthetic (signals, WFDB files, CSVs, hosp tables): ${rates(generate)}`);
  console.log(`baseline write-only (ready-made .hea/.dat pairs, same layout): ${rates(write)}`);
  console.log(`synthesis-only (signal model, no files): ${rates(synthesis)}`);
  console.log(
    `ratio generate / write-only: ${(generate.wallSeconds / write.wallSeconds).toFixed(2)}x wall, ` +
      `${(generate.cpuSeconds / write.cpuSeconds).toFixed(2)}x CPU`,
  );
  const cpuRate = records / generate.cpuSeconds;
  console.log(
    `target >= 200 ECGs per CPU second: ${cpuRate >= 200 ? 'met' : 'NOT met'} (${cpuRate.toFixed(0)})`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
