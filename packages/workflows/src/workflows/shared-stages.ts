import { proxyActivities } from '@temporalio/workflow';
import type { PipelineActivities } from '../activities/index.ts';
import type { PipelineConfig } from '../config.ts';
import { CPU_TASK_QUEUE, GATE_INPUT_EXPERT } from '../task-queues.ts';

const quick = { startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 3 } } as const;
/**
 * Long stages heartbeat (per batch, and every few seconds while they run): a worker that dies is noticed
 * within 30 s and the stage resumes on another one from what it already wrote.
 */
export const long = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
} as const;

export const cpu = proxyActivities<PipelineActivities>({ taskQueue: CPU_TASK_QUEUE, ...long });
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
  const featureActivities = proxyActivities<PipelineActivities>({ taskQueue: featureQueue, ...long });
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
  const [experts, gates] = await Promise.all([
    Promise.all(config.experts.map((e) => cache(e.name, e.weights, e.config))),
    Promise.all(gateInputs.map((gate) => cache(GATE_INPUT_EXPERT, undefined, gate))),
  ]);
  return { shards, labels, experts, gates };
}
