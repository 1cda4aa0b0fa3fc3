import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { PipelineActivities } from '../activities/index.ts';
import type { PipelineConfig } from '../config.ts';
import { CPU_TASK_QUEUE, GATE_INPUT_EXPERT } from '../task-queues.ts';

export interface PipelineInput {
  /** Validated by the client before the workflow starts (see validatePipelineConfig). */
  config: PipelineConfig;
}

export interface PipelineResult {
  runId: string;
  warehouse: string;
  ingest: { listed: number; ingested: number; unchanged: number; quarantined: number };
  labels: { rows: number; sha256: string; cacheHit: boolean };
  features: Array<{ expert: string; computed: number; cached: number }>;
  model: { modelId: string; modelDir: string; cacheHit: boolean };
  evaluationPath: string;
  report: { html: string; markdown: string };
}

const quick = { startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 3 } } as const;
/** Long stages heartbeat per batch; a worker that dies is noticed within 30 s and the stage resumes elsewhere. */
const long = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
} as const;

const cpu = proxyActivities<PipelineActivities>({ taskQueue: CPU_TASK_QUEUE, ...long });
const cpuQuick = proxyActivities<PipelineActivities>({ taskQueue: CPU_TASK_QUEUE, ...quick });

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

/**
 * The whole pipeline: ingest (fanned out over shards) -> labels -> frozen-expert features (one activity per
 * expert, on GPU workers when any are polling) -> train -> evaluate -> report. The workflow only
 * passes paths, hashes and counts; every stage is idempotent, so a retried or re-run stage reuses its work.
 */
export async function enecgPipeline({ config }: PipelineInput): Promise<PipelineResult> {
  // Scheduled workflow ids carry an ISO timestamp; run ids name files, so keep them to [A-Za-z0-9._-].
  const runId = workflowInfo().workflowId.replace(/[^A-Za-z0-9._-]/g, '-');
  const { warehouse } = config;

  const shards = await Promise.all(
    range(config.ingest.shards).map((index) =>
      cpu.ingestShard({
        runId,
        warehouse,
        source: config.source,
        shard: { index, count: config.ingest.shards },
        batchSize: config.ingest.batchSize,
      }),
    ),
  );

  const labels = await cpu.deriveLabels({
    runId,
    warehouse,
    source: config.source,
    hosp: config.hosp,
    config: config.labels,
  });

  // The gate's input (sampled raw leads) is cached like any expert's features.
  const featureQueue = await cpuQuick.chooseFeatureQueue(CPU_TASK_QUEUE);
  const featureActivities = proxyActivities<PipelineActivities>({ taskQueue: featureQueue, ...long });
  const features = await Promise.all(
    [...config.experts, { name: GATE_INPUT_EXPERT, weights: undefined, config: config.gateInput }].map(
      (expert) =>
        featureActivities.cacheFeatures({
          runId,
          warehouse,
          expert: expert.name,
          weights: expert.weights,
          expertConfig: expert.config,
          seed: config.seed,
          batchSize: config.features.batchSize,
          partRows: config.features.partRows,
          backend: config.features.backend,
        }),
    ),
  );

  const model = await cpu.trainModel({
    runId,
    warehouse,
    config: { seed: config.seed, ...config.training },
    experts: config.experts.map((e) => e.name),
    labelsSha256: labels.output.sha256,
    featureSets: features.map((f) => f.dir),
  });

  const evaluation = await cpu.evaluateModel({
    runId,
    warehouse,
    modelId: model.modelId,
    replicates: config.evaluation.replicates,
    seed: config.evaluation.seed,
  });

  const report = await cpuQuick.renderRunReport({ runId, warehouse });

  return {
    runId,
    warehouse,
    ingest: {
      listed: sum(shards.map((s) => s.listed)),
      ingested: sum(shards.map((s) => s.ingested)),
      unchanged: sum(shards.map((s) => s.unchanged)),
      quarantined: sum(shards.map((s) => s.quarantined)),
    },
    labels: { rows: labels.output.rows, sha256: labels.output.sha256, cacheHit: labels.cache.hit },
    features: features.map((f) => ({
      expert: f.expert,
      computed: f.computed,
      cached: f.totalRows - f.computed,
    })),
    model: { modelId: model.modelId, modelDir: model.modelDir, cacheHit: model.cache.hit },
    evaluationPath: evaluation.evaluationPath,
    report: { html: report.html, markdown: report.markdown },
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
