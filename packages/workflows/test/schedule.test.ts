import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineageVerify, readDecisions } from '@enecg/report';
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
  PROMOTION_RULE,
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
async function triggerAndWait(): Promise<NightlyResult & { workflowId: string }> {
  const outcome = await triggerSchedule(client, scheduleId);
  if (!outcome.started) throw new Error(`skipped: ${outcome.skippedBecauseRunning.join(', ')}`);
  const result = (await client.workflow.getHandle(outcome.workflowId).result()) as NightlyResult;
  return { ...result, workflowId: outcome.workflowId };
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
    expect(first.decision).toMatchObject({ rule: PROMOTION_RULE, verdict: 'first-champion' });
    expect((await readChampion(config.warehouse))?.modelId).toBe(first.pipeline.model.modelId);
    // The decision and the chain head are in the run's memo (what `temporal workflow describe` and the UI show).
    const described = await client.workflow.getHandle(first.workflowId).describe();
    expect(described.memo?.progress).toMatchObject({
      stage: 'done',
      decision: { verdict: 'first-champion', promoted: true, champion: first.pipeline.model.modelId },
      lineageHead: first.lineageHead,
    });
    expect(await readFile(first.pipeline.report.markdown, 'utf8')).toContain('## Champion decision');
    expect((await lineageVerify(config.warehouse, { expectedHead: first.lineageHead })).problems).toEqual([]);
    const seen = first.pipeline.ingest.listed;

    await writeFile(join(config.source, 'record_list.csv'), fullRecordList);
    const second = await triggerAndWait();
    const added = second.pipeline.ingest.listed - seen;
    expect(added).toBeGreaterThan(0);
    expect(second.pipeline.ingest.ingested).toBe(added);
    expect(second.pipeline.ingest.unchanged).toBe(seen);
    for (const features of second.pipeline.features) expect(features.computed).toBe(added);

    const champion = await readChampion(config.warehouse);
    // Decided on the validation split, each task by its paired interval, as the rule says.
    expect(second.decision.split.name).toBe('val');
    expect(second.decision.perTask.length).toBeGreaterThan(0);
    const verdicts = second.decision.perTask.map((task) => task.verdict);
    expect(second.promoted).toBe(!verdicts.includes('worse') && verdicts.includes('better'));
    expect(champion?.modelId).toBe(
      second.promoted ? second.pipeline.model.modelId : first.pipeline.model.modelId,
    );
    expect(existsSync(second.pipeline.report.html)).toBe(true);
    const decisions = await readDecisions(config.warehouse);
    expect(decisions.map((decision) => decision.challenger)).toEqual([
      first.pipeline.model.modelId,
      second.pipeline.model.modelId,
    ]);
    expect((await lineageVerify(config.warehouse, { expectedHead: second.lineageHead })).problems).toEqual(
      [],
    );
  });

  it('a trigger while a run is going is skipped by the overlap policy, and says which run blocks it', async () => {
    expect((await describeSchedule(client, scheduleId)).warehouse).toBe(config.warehouse);
    const first = await triggerSchedule(client, scheduleId);
    if (!first.started) throw new Error('the first trigger was skipped');
    const second = await triggerSchedule(client, scheduleId);
    expect(second).toEqual({ started: false, skippedBecauseRunning: [first.workflowId] });
    const handle = client.workflow.getHandle(first.workflowId);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
  });
});
