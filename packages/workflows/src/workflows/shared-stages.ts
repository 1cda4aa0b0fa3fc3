import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { PipelineActivities } from '../activities/index.ts';
import type { PipelineConfig } from '../config.ts';
import { CPU_TASK_QUEUE, GATE_INPUT_EXPERT } from '../task-queues.ts';
import { enecgPretrain } from './pretrain.ts';

/** Short bookkeeping activities (read or promote a champion, choose a queue, render a report). */
const quick = { startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 3 } } as const;

/**
 * The stages' options. Every stage heartbeats every second from the worker's event loop, which the
 * CPU-bound stages leave free by running in a stage process of their own (activities/stage-process.ts);
 * the server hears one every 2 s (worker.ts). So the heartbeat timeout no longer has to outlast a batch:
 * at 15 s it notices a dead worker quickly and leaves room for a busy machine. A timed-out or cancelled
 * attempt stops writing before its retry starts; ingest and features resume from the parts they wrote.
 * Start-to-close bounds one attempt, schedule-to-close the stage with its retries, sized for the full
 * MIMIC-IV-ECG (about 800,000 records) on one worker (see docs/architecture.md for the figures).
 */
function stage(startToClose: string, scheduleToClose: string) {
  return {
    heartbeatTimeout: '15 seconds',
    startToCloseTimeout: startToClose,
    scheduleToCloseTimeout: scheduleToClose,
    retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
  } as const;
}

const STAGE_OPTIONS = {
  ingest: stage('6 hours', '24 hours'),
  labels: stage('1 hour', '4 hours'),
  features: stage('24 hours', '7 days'),
  train: stage('24 hours', '72 hours'),
  evaluate: stage('2 hours', '8 hours'),
} as const;

const onCpu = (options: (typeof STAGE_OPTIONS)[keyof typeof STAGE_OPTIONS]) =>
  proxyActivities<PipelineActivities>({ taskQueue: CPU_TASK_QUEUE, ...options });

export const cpu = {
  ingestShard: onCpu(STAGE_OPTIONS.ingest).ingestShard,
  deriveLabels: onCpu(STAGE_OPTIONS.labels).deriveLabels,
  trainModel: onCpu(STAGE_OPTIONS.train).trainModel,
  trainSweepTrial: onCpu(STAGE_OPTIONS.train).trainSweepTrial,
  evaluateModel: onCpu(STAGE_OPTIONS.evaluate).evaluateModel,
  evaluateSweepTrial: onCpu(STAGE_OPTIONS.evaluate).evaluateSweepTrial,
};
export const cpuQuick = proxyActivities<PipelineActivities>({ taskQueue: CPU_TASK_QUEUE, ...quick });

type Activity<K extends keyof PipelineActivities> = Awaited<ReturnType<PipelineActivities[K]>>;

export interface PreparedInputs {
  shards: Array<Activity<'ingestShard'>>;
  labels: Activity<'deriveLabels'>;
  /** One feature set per configured expert, in config order. */
  experts: Array<Activity<'cacheFeatures'>>;
  /** One `raw-leads` feature set per requested gate input, in request order. */
  gates: Array<Activity<'cacheFeatures'>>;
}

/**
 * The stages every training run shares: ingest (fanned out over shards), labels, and the frozen experts'
 * features plus the gates' sampled leads (one activity each, on GPU workers when any are polling).
 */
export async function prepareInputs(
  config: PipelineConfig,
  runId: string,
  gateInputs: ReadonlyArray<{ leads: string[]; length: number }>,
  onStage: (stage: 'ingest' | 'labels' | 'features') => void = () => {},
): Promise<PreparedInputs> {
  const { warehouse } = config;
  onStage('ingest');
  const shards = await Promise.all(
    Array.from({ length: config.ingest.shards }, (_, index) =>
      cpu.ingestShard({
        runId,
        warehouse,
        source: config.source,
        shard: { index, count: config.ingest.shards },
        batchSize: config.ingest.batchSize,
      }),
    ),
  );
  onStage('labels');
  const labels = await cpu.deriveLabels({
    runId,
    warehouse,
    source: config.source,
    hosp: config.hosp,
    config: config.labels,
  });

  onStage('features');
  const featureQueue = await cpuQuick.chooseFeatureQueue(CPU_TASK_QUEUE);
  const featureActivities = proxyActivities<PipelineActivities>({
    taskQueue: featureQueue,
    ...STAGE_OPTIONS.features,
  });
  const cache = (
    expert: string,
    weights: string | undefined,
    expertConfig: Record<string, unknown> | undefined,
  ) =>
    featureActivities.cacheFeatures({
      runId,
      warehouse,
      expert,
      weights,
      expertConfig,
      seed: config.seed,
      batchSize: config.features.batchSize,
      partRows: config.features.partRows,
      backend: config.features.backend,
    });
  // An expert with `pretrain` is pretrained first (or an identical finished pretraining reused), as a
  // child workflow of its own, and its features come from the pretrained checkpoint.
  const weightsOf = async (expert: PipelineConfig['experts'][number]) => {
    if (!expert.pretrain) return expert.weights;
    const pretrained = await executeChild(enecgPretrain, {
      workflowId: `${runId}-pretrain-${expert.name}`,
      args: [
        {
          runId,
          warehouse,
          expert: expert.name,
          expertConfig: expert.config,
          pretrain: { ...expert.pretrain },
          weights: expert.weights,
          seed: config.seed,
          backend: config.features.backend,
          steps: expert.pretrain.steps,
          checkpointEvery: expert.pretrain.checkpointEvery,
        },
      ],
    });
    return pretrained.checkpoint;
  };
  const [experts, gates] = await Promise.all([
    Promise.all(config.experts.map(async (e) => cache(e.name, await weightsOf(e), e.config))),
    Promise.all(gateInputs.map((gate) => cache(GATE_INPUT_EXPERT, undefined, gate))),
  ]);
  return { shards, labels, experts, gates };
}
