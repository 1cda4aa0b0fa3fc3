import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@enecg/common';
import { ingest } from '@enecg/ingest';
import { deriveLabels } from '@enecg/labels';
import { pretrainExpert } from '@enecg/model';
import { generateSynthetic } from '@enecg/synth';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CPU_TASK_QUEUE, runPipelineLocally, validatePipelineConfig } from '../src/index.ts';
import { runWithLocalWorker } from '../src/local-run.ts';
import type { EnecgPretrainInput } from '../src/workflows/pretrain.ts';

let root: string;
let source: string;

const DLINEAR = { length: 100 };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-pretrain-workflow-'));
  source = join(root, 'source');
  await generateSynthetic({ subjects: 16, outDir: source, seed: 9, layout: 'v1' });
}, 120_000);

/** A warehouse of the same source: the same contents wherever it is built (a lake cannot be copied). */
async function ingested(): Promise<string> {
  const warehouse = join(await mkdtemp(join(root, 'ingested-')), 'warehouse');
  await ingest({ source, warehouse });
  await deriveLabels({ source, hosp: join(source, 'hosp'), warehouse });
  return warehouse;
}

describe('pretraining in pipeline configs', () => {
  const base = () => ({ source, hosp: join(source, 'hosp'), warehouse: join(root, 'unused') });
  const refusedKey = (experts: unknown[]) => {
    try {
      validatePipelineConfig({ ...base(), experts });
    } catch (error) {
      if (error instanceof ConfigError) return error.key;
      throw error;
    }
    return undefined;
  };

  it('fills in the defaults, and refuses a bad setting or an expert without an objective by key', () => {
    const config = validatePipelineConfig({
      ...base(),
      experts: [{ name: 'timesnet', pretrain: { steps: 2000 } }, { name: 'measurements' }],
    });
    expect(config.experts[0]!.pretrain).toMatchObject({ steps: 2000, batchSize: 16, checkpointEvery: 50 });
    expect(config.experts[1]!.pretrain).toBeUndefined();
    expect(refusedKey([{ name: 'dlinear', pretrain: { stepz: 3 } }, { name: 'measurements' }])).toBe(
      'experts.0.pretrain.stepz',
    );
    expect(refusedKey([{ name: 'moment', pretrain: { maskRatio: 2 } }, { name: 'measurements' }])).toBe(
      'experts.0.pretrain.maskRatio',
    );
    expect(refusedKey([{ name: 'dlinear' }, { name: 'tempo', pretrain: {} }])).toBe('experts.1.pretrain');
    expect(refusedKey([{ name: 'ecgfm', config: { model: { labels: 17 } }, pretrain: {} }])).toBe(
      'experts.0.config.model.labels',
    );
  });
});

describe('the enecgPretrain workflow on a real Temporal server', { timeout: 300_000 }, () => {
  it('runs in segments, continues as new, and ends with the bytes of one uninterrupted pretraining', async () => {
    const direct = await ingested();
    const viaTemporal = await ingested();
    const pretrain = { steps: 12, checkpointEvery: 2, batchSize: 4 };
    const expected = await pretrainExpert({
      warehouse: direct,
      expert: 'dlinear',
      expertConfig: DLINEAR,
      config: pretrain,
      seed: 5,
    });
    const input: EnecgPretrainInput = {
      warehouse: viaTemporal,
      expert: 'dlinear',
      expertConfig: DLINEAR,
      pretrain,
      seed: 5,
      backend: 'auto',
      steps: 12,
      checkpointEvery: 2,
      segmentSteps: 3,
      segmentsPerRun: 2,
    };
    let firstRun: { workflowId: string; runId: string } | undefined;
    let describeFirst: (() => Promise<string>) | undefined;
    const summary = await runWithLocalWorker({ address: inject('temporalAddress') }, async (client) => {
      const handle = await client.workflow.start('enecgPretrain', {
        taskQueue: CPU_TASK_QUEUE,
        workflowId: `pretrain-test-${Date.now()}`,
        args: [input],
      });
      firstRun = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
      describeFirst = async () =>
        (await client.workflow.getHandle(firstRun!.workflowId, firstRun!.runId).describe()).status.name;
      return {
        workflowId: handle.workflowId,
        result: async () => {
          const result = (await handle.result()) as Awaited<ReturnType<typeof pretrainExpert>>;
          return { result, firstStatus: await describeFirst!() };
        },
      };
    });
    expect(summary.firstStatus).toBe('CONTINUED_AS_NEW');
    expect(summary.result.pretrainId).toBe(expected.pretrainId);
    expect(await readFile(summary.result.checkpoint)).toEqual(await readFile(expected.checkpoint));
  });

  it('a pipeline expert with `pretrain` gets its features from the pretrained checkpoint, and lineage leads there', async () => {
    const warehouse = join(root, 'pipeline-warehouse');
    const config = validatePipelineConfig({
      source,
      hosp: join(source, 'hosp'),
      warehouse,
      ingest: { shards: 1 },
      experts: [
        { name: 'dlinear', config: DLINEAR, pretrain: { steps: 6, checkpointEvery: 3, batchSize: 4 } },
        { name: 'measurements' },
      ],
      training: { maxEpochs: 2 },
      evaluation: { replicates: 20 },
    });
    await runPipelineLocally({ config, address: inject('temporalAddress') });
    const folder = join(warehouse, 'lineage', 'events');
    const events = await Promise.all(
      (await readdir(folder)).map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8'))),
    );
    const pretrained = events.find((event) => event.job.name === 'pretrain/dlinear');
    expect(pretrained).toBeDefined();
    const checkpoint = pretrained.outputs[0];
    const features = events.find(
      (event) => event.job.name === 'features/dlinear' && event.eventType === 'COMPLETE',
    );
    const weights = features.inputs.find((input: { name: string }) => input.name === 'weights');
    expect(weights).toMatchObject({ sha256: checkpoint.sha256 });
    expect(features.facets.weightsId).toBe(checkpoint.sha256);
  });
});
