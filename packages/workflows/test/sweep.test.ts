import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, lineageVerify } from '@enecg/report';
import { generateSynthetic } from '@enecg/synth';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CPU_TASK_QUEUE,
  connectClient,
  createActivities,
  createPipelineWorker,
  type SweepPlan,
  type SweepResult,
  startSweep,
  type TrialResult,
  validateSweepConfig,
} from '../src/index.ts';

let client: Client;
let plan: SweepPlan;
let warehouse: string;

/** A worker like `enecg worker` on a 2-core machine: two activities at once. */
const newWorker = () =>
  createPipelineWorker({
    address: inject('temporalAddress'),
    taskQueue: CPU_TASK_QUEUE,
    activities: createActivities(),
    maxConcurrentActivities: 2,
  });

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'enecg-sweep-'));
  const source = join(root, 'source');
  await generateSynthetic({ subjects: 24, outDir: source, seed: 5, layout: 'v1' });
  warehouse = join(root, 'warehouse');
  plan = await validateSweepConfig({
    base: {
      source,
      hosp: join(source, 'hosp'),
      warehouse,
      experts: [{ name: 'dlinear' }, { name: 'timesnet' }],
      training: { maxEpochs: 2, hiddenSize: 8, patience: 0 },
      evaluation: { replicates: 10 },
    },
    search: {
      method: 'random',
      samples: 12,
      seed: 3,
      space: {
        preset: ['default', 'faithful'],
        loraRank: [2, 4],
        loraAlpha: [4, 16],
        hiddenSize: [8, 16],
        gateWidth: [4, 8],
        gateDepth: [2, 3],
        gateLeads: [['II'], ['I', 'II']],
        gateLength: [250],
        topK: [0, 1],
        learningRate: [1e-3, 1e-2],
        tasks: [['rr_interval', 'age', 'gender', 'flag', 'report_label'], ['report_label']],
      },
    },
    maxParallel: 2,
    // A tight margin, so that this small sweep shows trials being stopped as well as completed.
    earlyStopping: { screenEpochs: 1, margin: 0.02 },
    throughput: { rows: 256, passes: 3 },
  });
  client = await connectClient(inject('temporalAddress'));
});

afterAll(async () => {
  await client?.connection.close();
});

/** Lineage events of one job, counted by run id. */
async function eventsByRun(job: string): Promise<Map<string, number>> {
  const dir = join(warehouse, 'lineage', 'events');
  const counts = new Map<string, number>();
  for (const name of await readdir(dir)) {
    const event = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
      eventType: string;
      job: { name: string };
      run: { runId: string };
    };
    if (event.job.name !== job || event.eventType !== 'COMPLETE') continue;
    counts.set(event.run.runId, (counts.get(event.run.runId) ?? 0) + 1);
  }
  return counts;
}

async function countFiles(dir: string): Promise<number> {
  return existsSync(dir) ? (await readdir(dir)).length : 0;
}

/** What must be identical between two runs of a sweep (costs are measured, so they may differ). */
const metricsOf = (trials: TrialResult[]) =>
  trials.map(
    ({
      trialId,
      params,
      status,
      modelId,
      epochsRun,
      trainableParameters,
      screenValLoss,
      validation,
      test,
    }) => ({
      trialId,
      params,
      status,
      modelId,
      epochsRun,
      trainableParameters,
      screenValLoss,
      validation,
      test,
    }),
  );

describe('a sweep through the real Temporal server', () => {
  let first: SweepResult;

  it('runs 12 trials on 2 cores, survives a worker restart mid-sweep without recomputing finished trials', async () => {
    expect(plan.trials).toHaveLength(12);
    const handle = await startSweep(client, plan);
    const before = await newWorker();
    const running = before.run();
    // Stop the worker once part of the trials has trained (each training leaves a stage-cache entry).
    const trained = join(warehouse, 'stage-cache', 'sweep-train');
    while ((await countFiles(trained)) < 5) await new Promise((resolve) => setTimeout(resolve, 200));
    before.shutdown();
    await running;
    const doneBeforeRestart = await countFiles(trained);
    expect(doneBeforeRestart).toBeLessThan(12);

    const after = await newWorker();
    first = await after.runUntil(handle.result());

    expect(first.trials).toBe(12);
    expect(first.completed + first.stoppedEarly).toBe(12);
    expect(first.completed).toBeGreaterThan(0);
    expect(first.stoppedEarly).toBeGreaterThan(0);
    expect(first.chosen).not.toBeNull();
    const results = JSON.parse(await readFile(first.resultsPath, 'utf8')) as { trials: TrialResult[] };
    // Every training and evaluation ran exactly once: screening (1 epoch) for all, full (2 epochs) and
    // val + test evaluation for survivors; a repeated stage would have left a second lineage event.
    const trains = await eventsByRun('train');
    const evaluations = await eventsByRun('evaluate');
    for (const trial of results.trials) {
      expect(trial.runId).toBe(`${plan.sweepId}-${trial.trialId}`);
      expect(trains.get(trial.runId)).toBe(trial.status === 'complete' ? 2 : 1);
      expect(evaluations.get(trial.runId) ?? 0).toBe(trial.status === 'complete' ? 2 : 0);
      if (trial.status !== 'complete') continue;
      expect(trial.epochsRun).toBe(2);
      for (const task of trial.tasks) {
        expect(trial.validation?.[task]?.ensemble).toBeDefined();
        expect(trial.test?.[task]?.ensemble).toBeDefined();
      }
      expect(trial.ecgsPerSecond).toBeGreaterThan(0);
      expect(trial.trainableParameters).toBeGreaterThan(0);
      expect(trial.peakTensorBytes).toBeGreaterThan(0);
      expect(trial.secondsPerEpoch).toBeGreaterThan(0);
    }

    // Every file the sweep left in the warehouse is named by a lineage event with its hash.
    expect((await lineageVerify(warehouse)).problems.map(formatProblem)).toEqual([]);

    const html = await readFile(first.html, 'utf8');
    expect(first.html).toBe(join(warehouse, 'sweeps', plan.sweepId, 'report.html'));
    expect(html).toContain(`${first.chosen} (chosen)`);
    expect(html).toContain('<svg');
    expect(html).toContain('Test metrics are not consulted');
    const markdown = await readFile(first.markdown, 'utf8');
    expect(markdown).toContain('## Pareto fronts');
    expect(markdown.match(/^\| t[0-9a-f]{10}/gm)?.length).toBeGreaterThanOrEqual(12);
  });

  it('gives identical trial metrics when the same sweep runs again', async () => {
    const again: SweepPlan = { ...plan, sweepId: `${plan.sweepId}-again` };
    const worker = await newWorker();
    const second = await worker.runUntil(async () => (await startSweep(client, again)).result());
    const read = async (path: string) =>
      (JSON.parse(await readFile(path, 'utf8')) as { trials: TrialResult[] }).trials;
    expect(metricsOf(await read(second.resultsPath))).toEqual(metricsOf(await read(first.resultsPath)));
    expect(second.chosen).toBe(first.chosen);
    // It retrained rather than reusing the first sweep's trials.
    const trains = await eventsByRun('train');
    expect(trains.get(`${again.sweepId}-${again.trials[0]?.trialId}`)).toBeGreaterThan(0);
  });
});
