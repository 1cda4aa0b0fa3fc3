import { workflowInfo } from '@temporalio/workflow';
import type { PipelineConfig } from '../config.ts';
import { trackProgress } from './progress.ts';
import { cpu, cpuQuick, prepareInputs } from './shared-stages.ts';

export interface PipelineInput {
  /** Validated by the client before the workflow starts (see validatePipelineConfig). */
  config: PipelineConfig;
}

export interface PipelineResult {
  runId: string;
  warehouse: string;
  ingest: { listed: number; ingested: number; unchanged: number; quarantined: number };
  labels: { rows: number; sha256: string; cacheHit: boolean; labelSet: string };
  features: Array<{ expert: string; computed: number; cached: number }>;
  model: { modelId: string; modelDir: string; cacheHit: boolean };
  evaluationPath: string;
  report: { html: string; markdown: string };
  /** The warehouse's lineage chain head after this run's last event: `enecg lineage verify --expect-head`. */
  lineageHead: { sequence: number; sha256: string };
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
  const progress = trackProgress();

  const { shards, labels, experts, gates } = await prepareInputs(config, runId, [config.gateInput], (stage) =>
    progress.enter(stage),
  );
  const features = [...experts, ...gates];

  progress.enter('train');
  const model = await cpu.trainModel({
    runId,
    warehouse,
    config: { seed: config.seed, ...config.training },
    // The exact feature sets this config produced: other configs' caches of the same experts may sit beside them.
    experts: experts.map((f) => f.featureSetId),
    gateCache: gates[0]?.featureSetId.split('/')[1],
    labelsSha256: labels.output.sha256,
    labelSet: labels.labelSet,
    featureSets: features.map((f) => f.dir),
  });

  progress.enter('evaluate');
  const evaluation = await cpu.evaluateModel({
    runId,
    warehouse,
    modelId: model.modelId,
    replicates: config.evaluation.replicates,
    seed: config.evaluation.seed,
  });

  progress.enter('report');
  const report = await cpuQuick.renderRunReport({ runId, warehouse });
  progress.finish({ lineageHead: report.lineageHead });

  return {
    runId,
    warehouse,
    ingest: {
      listed: sum(shards.map((s) => s.listed)),
      ingested: sum(shards.map((s) => s.ingested)),
      unchanged: sum(shards.map((s) => s.unchanged)),
      quarantined: sum(shards.map((s) => s.quarantined)),
    },
    labels: {
      rows: labels.output.rows,
      sha256: labels.output.sha256,
      cacheHit: labels.cache.hit,
      labelSet: labels.labelSet,
    },
    features: features.map((f) => ({
      expert: f.expert,
      computed: f.computed,
      cached: f.totalRows - f.computed,
    })),
    model: { modelId: model.modelId, modelDir: model.modelDir, cacheHit: model.cache.hit },
    evaluationPath: evaluation.evaluationPath,
    report: { html: report.html, markdown: report.markdown },
    lineageHead: report.lineageHead,
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
