import { executeChild, workflowInfo } from '@temporalio/workflow';
import type { PipelineConfig } from '../config.ts';
import { CPU_TASK_QUEUE } from '../task-queues.ts';
import { enecgPipeline, type PipelineResult } from './pipeline.ts';
import { cpu, cpuQuick } from './shared-stages.ts';

export interface NightlyInput {
  config: PipelineConfig;
}

export interface NightlyResult {
  pipeline: PipelineResult;
  champion: string;
  promoted: boolean;
  reason: string;
}

/**
 * One scheduled retrain: the pipeline as a child run (incremental by construction: ingest skips unchanged
 * records, feature caching skips cached ones), then the champion is re-evaluated on today's test split and
 * replaced only if the new model beats it there.
 */
export async function nightlyRetrain({ config }: NightlyInput): Promise<NightlyResult> {
  const info = workflowInfo();
  const nominal = info.searchAttributes?.TemporalScheduledStartTime?.[0];
  const nominalTime = nominal instanceof Date ? nominal.toISOString() : undefined;
  const pipeline = await executeChild(enecgPipeline, {
    workflowId: `${info.workflowId}-pipeline`,
    args: [{ config }],
    taskQueue: CPU_TASK_QUEUE,
  });
  const champion = await cpuQuick.readChampion(config.warehouse);
  // Same model (nothing changed since the champion was trained): compare it with itself, which never promotes.
  const championEvaluation =
    champion === null
      ? undefined
      : champion.modelId === pipeline.model.modelId
        ? pipeline.evaluationPath
        : (
            await cpu.evaluateModel({
              runId: pipeline.runId,
              warehouse: config.warehouse,
              modelId: champion.modelId,
              replicates: config.evaluation.replicates,
              seed: config.evaluation.seed,
            })
          ).evaluationPath;
  const decision = await cpuQuick.promoteIfBetter({
    warehouse: config.warehouse,
    runId: pipeline.runId,
    challengerEvaluation: pipeline.evaluationPath,
    championEvaluation,
    minImprovement: config.promotion.minImprovement,
    nominalTime,
  });
  return {
    pipeline,
    champion: decision.modelId,
    promoted: decision.promoted,
    reason: decision.decision.reason,
  };
}
