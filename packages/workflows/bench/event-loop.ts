/**
 * The worker's event-loop delay (p99, max) while feature caching runs: in the worker's own loop (how
 * activities ran before) against in a stage process (how they run now), on the same records in the same
 * run. Each mode caches its own feature set (another seed), so both compute every record. The figures are
 * those of the harness process, which stands for a worker: a held-up loop is a late heartbeat.
 *
 *   npx tsx bench/event-loop.ts [--subjects N] [--expert timesnet] [--backend wasm] [--batch-size 16]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingest } from '@enecg/ingest';
import type { BackendChoice } from '@enecg/model';
import { cacheFeatures } from '@enecg/model';
import { generateSynthetic } from '@enecg/synth';
import { runInStageProcess } from '../src/activities/stage-process.ts';
import { type LoopDelay, monitorLoopDelay } from '../src/loop-delay.ts';

/** The target for the loop's longest stall while a stage runs. */
const TARGET_MAX_MS = 200;

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] as string) : fallback;
}

async function measure(work: () => Promise<{ computed: number }>): Promise<LoopDelay & { records: number }> {
  const monitor = monitorLoopDelay();
  const { computed } = await work();
  return { ...monitor.stop(), records: computed };
}

const subjects = Number(argument('subjects', '24'));
const expert = argument('expert', 'timesnet');
const backend = argument('backend', 'wasm') as BackendChoice;
const batchSize = Number(argument('batch-size', '16'));

const root = await mkdtemp(join(tmpdir(), 'enecg-bench-loop-'));
try {
  const source = join(root, 'source');
  const warehouse = join(root, 'warehouse');
  await generateSynthetic({ subjects, outDir: source, seed: 3, layout: 'v1' });
  await ingest({ source, warehouse });
  const options = (seed: number) => ({ warehouse, expert, backend, batchSize, expertOptions: { seed } });

  const inLoop = await measure(() => cacheFeatures(options(1)));
  const offLoop = await measure(() => runInStageProcess('cacheFeatures', options(2), { warehouse }));

  console.log(`\nfeature caching, ${expert} on ${backend}, batches of ${batchSize}`);
  console.log('mode                    records  seconds  loop delay p99 ms  max ms');
  for (const [mode, figures] of [
    ['in the worker loop', inLoop],
    ['in a stage process', offLoop],
  ] as const) {
    console.log(
      `${mode.padEnd(22)} ${String(figures.records).padStart(8)} ${figures.seconds.toFixed(1).padStart(8)} ${figures.p99Ms.toFixed(0).padStart(18)} ${figures.maxMs.toFixed(0).padStart(7)}`,
    );
  }
  console.log(
    `\nmax delay, stage process / worker loop (baseline, same run): ${(offLoop.maxMs / inLoop.maxMs).toFixed(3)}x; ` +
      `target max < ${TARGET_MAX_MS} ms: ${offLoop.maxMs < TARGET_MAX_MS ? 'met' : 'not met'}`,
  );
  console.log(
    `wall time, stage process / worker loop: ${(offLoop.seconds / inLoop.seconds).toFixed(2)}x (the stage process's start and module loading included)`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
