import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDuckDB } from '@enecg/common';
import { ingest } from '@enecg/ingest';
import { generateSynthetic } from '@enecg/synth';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FeaturesInput } from '../src/activities/index.ts';
import { connectClient, createActivities, createPipelineWorker, type LoopDelayReport } from '../src/index.ts';

const TASK_QUEUE = 'enecg-off-loop-test';

let root: string;
let warehouse: string;
let records: number;
let client: Client;
let worker: Worker;
let running: Promise<void>;
const hogs: ChildProcess[] = [];
const loopDelays: LoopDelayReport[] = [];

/**
 * TimesNet on wasm. With 16 records a batch, one batch under the hog takes longer than the 5 s heartbeat
 * timeout (run in the worker's loop, the activity times out and is retried: the overlap this issue is
 * about); with 4, the first part is written early and most of the work is still ahead when it is cancelled.
 */
function featuresInput(seed: number, batchSize: number): FeaturesInput {
  return {
    runId: `off-loop-${seed}`,
    warehouse,
    expert: 'timesnet',
    seed,
    batchSize,
    partRows: 4,
    backend: 'wasm',
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-off-loop-'));
  const source = join(root, 'source');
  warehouse = join(root, 'warehouse');
  await generateSynthetic({ subjects: 20, outDir: source, seed: 11, layout: 'v1' });
  records = (await ingest({ source, warehouse })).ingested;
  // One busy process per core competes with the worker and its stage process for the CPU.
  for (let i = 0; i < availableParallelism(); i++) {
    hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  }
  const address = inject('temporalAddress');
  client = await connectClient(address);
  worker = await createPipelineWorker({
    address,
    taskQueue: TASK_QUEUE,
    activities: createActivities(),
    workflowsPath: join(import.meta.dirname, 'heartbeat-workflows.ts'),
    onLoopDelay: (report) => loopDelays.push(report),
  });
  running = worker.run();
});

afterAll(async () => {
  for (const hog of hogs) hog.kill('SIGKILL');
  worker?.shutdown();
  await running;
  await client?.connection.close();
});

describe('feature caching off the event loop, on a real Temporal server, under a CPU hog', () => {
  it('heartbeats through a long activity with a 5 s heartbeat timeout: no timeout, no retry', async () => {
    const handle = await client.workflow.start('featuresWithShortHeartbeat', {
      taskQueue: TASK_QUEUE,
      workflowId: `off-loop-complete-${Date.now()}`,
      args: [featuresInput(1, 16)],
    });
    const summary = (await handle.result()) as { computed: number };
    expect(summary.computed).toBe(records);

    const events = (await handle.fetchHistory()).events ?? [];
    const started = events.flatMap((event) => event.activityTaskStartedEventAttributes ?? []);
    expect(started.map((attributes) => attributes.attempt)).toEqual([1]);
    expect(events.some((event) => event.activityTaskTimedOutEventAttributes)).toBe(false);

    const delay = loopDelays.find((report) => report.workflowId === handle.workflowId);
    expect(delay?.activity).toBe('cacheFeatures');
    // The stage outlasted the heartbeat timeout...
    expect(delay?.seconds).toBeGreaterThan(5);
    // ...and the worker's loop stayed free for heartbeats (the worker warns above 1 s).
    expect(delay?.maxMs).toBeLessThan(1_000);
  });

  it('stops within 5 s of a cancel request and leaves only whole parts behind', async () => {
    const input = featuresInput(2, 4);
    const handle = await client.workflow.start('featuresWithShortHeartbeat', {
      taskQueue: TASK_QUEUE,
      workflowId: `off-loop-cancel-${Date.now()}`,
      args: [input],
    });
    const features = join(warehouse, 'features', 'timesnet');
    const before = new Set(await filesUnder(features));
    const newParts = async () =>
      (await filesUnder(features)).filter((file) => file.endsWith('.parquet') && !before.has(file));
    const deadline = Date.now() + 300_000;
    while ((await newParts()).length === 0) {
      if (Date.now() > deadline) throw new Error('the activity wrote no feature part within 300 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(worker.getStatus().numInFlightActivities).toBe(1);

    const cancelled = Date.now();
    await handle.cancel();
    while (worker.getStatus().numInFlightActivities > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(Date.now() - cancelled).toBeLessThan(5_000);
    await expect(handle.result()).rejects.toThrow(/cancel/i);

    // Nothing half-written: no temporaries, every part readable whole, and nothing still writing.
    const written = await newParts();
    expect((await filesUnder(warehouse)).filter((file) => file.includes('.tmp-'))).toEqual([]);
    await withDuckDB(async (connection) => {
      for (const part of written) {
        const reader = await connection.runAndReadAll(`SELECT count(*) FROM read_parquet('${part}')`);
        expect(Number(reader.getRows()[0]?.[0])).toBeGreaterThan(0);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await newParts()).toEqual(written);
    expect(written.length * input.partRows!).toBeLessThan(records);
  });
});
