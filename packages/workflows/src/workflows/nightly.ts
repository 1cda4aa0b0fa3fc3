import type { ChampionDecisionRecord } from '@enecg/report';
import { executeChild, workflowInfo } from '@temporalio/workflow';
import type { PipelineConfig } from '../config.ts';
import { CPU_TASK_QUEUE } from '../task-queues.ts';
import { enecgPipeline, type PipelineResult } from './pipeline.ts';
import { trackProgress } from './progress.ts';
import { cpu, cpuQuick } from './shared-stages.ts';

export interface NightlyInput {
  config: PipelineConfig;
}

export interface NightlyResult {
  pipeline: PipelineResult;
  /** The champion after tonight's decision (null while none has been promoted). */
  champion: string | null;
  promoted: boolean;
  reason: string;
  decision: Pick<ChampionDecisionRecord, 'rule' | 'verdict' | 'perTask' | 'split'> & { file: string };
  /** The lineage chain head after the decision and the report that shows it. */
  lineageHead: { sequence: number; sha256: string };
}

/**
 * One scheduled retrain: the pipeline as a child run (incremental by construction: ingest skips unchanged
 * records, feature caching skips cached ones), then the new model and the champion are evaluated on today's
 * validation split (the test split stays for reporting) and the new model replaces the champion only by the
 * versioned rule (see promotion.ts); the run's report is rendered again to show the decision.
 */
export async function nightlyRetrain({ config }: NightlyInput): Promise<NightlyResult> {
  const info = workflowInfo();
  const nominal = info.searchAttributes?.TemporalScheduledStartTime?.[0];
  const nominalTime = nominal instanceof Date ? nominal.toISOString() : undefined;
  const progress = trackProgress();
  progress.enter('pipeline');
  const pipeline = await executeChild(enecgPipeline, {
    workflowId: `${info.workflowId}-pipeline`,
    args: [{ config }],
    taskQueue: CPU_TASK_QUEUE,
  });
  const { warehouse } = config;
  const onValidation = async (modelId: string) =>
    (
      await cpu.evaluateModel({
        runId: pipeline.runId,
        warehouse,
        modelId,
        replicates: config.evaluation.replicates,
        seed: config.evaluation.seed,
        split: 'val',
        // Today's labels for both models: the champion's own set predates the ECGs ingested since.
        labelSet: pipeline.labels.labelSet,
      })
    ).evaluationPath;
  progress.enter('evaluate on validation');
  const champion = await cpuQuick.readChampion(warehouse);
  const challengerEvaluation = await onValidation(pipeline.model.modelId);
  // Same model (nothing changed since the champion was trained): compared with itself, every task ties.
  const championEvaluation =
    champion === null
      ? undefined
      : champion.modelId === pipeline.model.modelId
        ? challengerEvaluation
        : await onValidation(champion.modelId);
  progress.enter('promote');
  const decision = await cpuQuick.promoteIfBetter({
    warehouse,
    runId: pipeline.runId,
    challengerEvaluation,
    championEvaluation,
    confidence: config.promotion.confidence,
    nominalTime,
  });
  progress.decide({
    verdict: decision.verdict,
    promoted: decision.promoted,
    champion: decision.championAfter,
    rule: decision.rule,
    reason: decision.reason,
  });
  progress.enter('report');
  const report = await cpuQuick.renderRunReport({ runId: pipeline.runId, warehouse });
  progress.finish({ lineageHead: report.lineageHead });
  return {
    pipeline: { ...pipeline, report: { html: report.html, markdown: report.markdown } },
    champion: decision.championAfter,
    promoted: decision.promoted,
    reason: decision.reason,
    decision: {
      rule: decision.rule,
      verdict: decision.verdict,
      perTask: decision.perTask,
      split: decision.split,
      file: decision.decisionFile,
    },
    lineageHead: report.lineageHead,
  };
}
