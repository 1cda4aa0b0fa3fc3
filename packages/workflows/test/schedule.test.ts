import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@enecg/synth';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readChampion } from '../src/activities/champion.ts';
import {
  CPU_TASK_QUEUE,
  connectClient,
  createActivities,
  createPipelineWorker,
  createRetrainSchedule,
  deleteSchedule,
  describeSchedule,
  type PipelineConfig,
  triggerSchedule,
  validatePipelineConfig,
} from '../src/index.ts';
import type { NightlyResult } from '../src/workflows/nightly.ts';

let client: Client;
let worker: Worker;
let running: Promise<void>;
let config: PipelineConfig;
let fullRecordList: string;
const scheduleId = `nightly-test-${process.pid}`;

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'enecg-schedule-'));
  const source = join(root, 'source');
  await generateSynthetic({ subjects: 30, outDir: source, seed: 11, layout: 'v1' });
  fullRecordList = await readFile(join(source, 'record_list.csv'), 'utf8');
  const lines = fullRecordList.trimEnd().split('\n');
  // The first night sees only the older two thirds of the ECGs; the rest "arrive" before the second night.
  await writeFile(
    join(source, 'record_list.csv'),
    `${lines.slice(0, Math.ceil(lines.length * 0.66)).join('\n')}\n`,
  );
  config = validatePipelineConfig({
    source,
    hosp: join(source, 'hosp'),
    warehouse: join(root, 'warehouse'),
    training: { maxEpochs: 2 },
    evaluation: { replicates: 20 },
  });
  const address = inject('temporalAddress');
  client = await connectClient(address);
  worker = await createPipelineWorker({ address, taskQueue: CPU_TASK_QUEUE, activities: createActivities() });
  running = worker.run();
  await createRetrainSchedule(client, {
    scheduleId,
    cron: '0 2 * * *',
    timeZone: 'UTC',
    catchupWindow: '1 minute',
    pipelineConfig: config,
  });
});

afterAll(async () => {
  await deleteSchedule(client, scheduleId).catch(() => {});
  worker.shutdown();
  await running;
  await client.connection.close();
});

/** Triggers the schedule and waits for the run it starts. */
async function triggerAndWait(): Promise<NightlyResult> {
  const before = (await describeSchedule(client, scheduleId)).recentRuns.length;
  await triggerSchedule(client, scheduleId);
  for (;;) {
    const runs = (await describeSchedule(client, scheduleId)).recentRuns;
    if (runs.length > before) {
      const latest = runs[runs.length - 1];
      if (!latest) throw new Error('schedule reported no run');
      return (await client.workflow.getHandle(latest.workflowId).result()) as NightlyResult;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('the nightly retraining schedule', () => {
  it('refuses to create a schedule whose id exists', async () => {
    await expect(
      createRetrainSchedule(client, {
        scheduleId,
        cron: '0 2 * * *',
        timeZone: 'UTC',
        catchupWindow: '1 minute',
        pipelineConfig: config,
      }),
    ).rejects.toThrow(/already exists/);
  });

  it('trains a first champion, then retrains incrementally on new ECGs and promotes only by the rule', async () => {
    const first = await triggerAndWait();
    expect(first.promoted).toBe(true);
    expect(first.reason).toBe('no champion yet');
    expect((await readChampion(config.warehouse))?.modelId).toBe(first.pipeline.model.modelId);
    const seen = first.pipeline.ingest.listed;

    await writeFile(join(config.source, 'record_list.csv'), fullRecordList);
    const second = await triggerAndWait();
    const added = second.pipeline.ingest.listed - seen;
    expect(added).toBeGreaterThan(0);
    expect(second.pipeline.ingest.ingested).toBe(added);
    expect(second.pipeline.ingest.unchanged).toBe(seen);
    for (const features of second.pipeline.features) expect(features.computed).toBe(added);

    const champion = await readChampion(config.warehouse);
    const improvement = Number(/mean relative improvement (-?[\d.]+) %/.exec(second.reason)?.[1]);
    expect(Number.isFinite(improvement)).toBe(true);
    expect(second.promoted).toBe(improvement > 0);
    expect(champion?.modelId).toBe(
      second.promoted ? second.pipeline.model.modelId : first.pipeline.model.modelId,
    );
    expect(existsSync(second.pipeline.report.html)).toBe(true);
  });
});
