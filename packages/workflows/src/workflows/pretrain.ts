import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { PipelineActivities, PretrainInput } from '../activities/index.ts';
import { CPU_TASK_QUEUE } from '../task-queues.ts';

export interface EnecgPretrainInput extends Omit<PretrainInput, 'untilStep' | 'runId'> {
  /** Recorded in lineage; default: this workflow's id. */
  runId?: string;
  /** The pretraining's resolved `steps` and `checkpointEvery` (see resolvePretrainConfig). */
  steps: number;
  checkpointEvery: number;
  /** Steps per activity (default: ten checkpoints' worth), so that a retry repeats little. */
  segmentSteps?: number;
  /** Segments before the workflow continues as new (default 200), keeping its history short. */
  segmentsPerRun?: number;
  /** The step the previous run of this workflow (before continue-as-new) reached. */
  reached?: number;
}

type Segment = Awaited<ReturnType<PipelineActivities['pretrainSegment']>>;
/** The finished pretraining's summary (`PretrainSummary` of @enecg/model). */
export type PretrainResult = Extract<Segment, { finished: true }>['summary'];

/**
 * Each segment is an attempt of its own: heartbeats every second from a stage process (15 s timeout);
 * a retry resumes from the pretraining's last checkpoint, so at most `checkpointEvery` steps are redone.
 */
const activities = proxyActivities<PipelineActivities>({
  taskQueue: CPU_TASK_QUEUE,
  heartbeatTimeout: '15 seconds',
  startToCloseTimeout: '6 hours',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});

/**
 * A long self-supervised pretraining (`enecg pretrain`) as a workflow: segments of `segmentSteps` steps,
 * each an activity that resumes from the last checkpoint, until the pretraining finishes (or is found
 * finished already: an identical one is reused). Continues as new when its history would grow large.
 */
export async function enecgPretrain(input: EnecgPretrainInput): Promise<PretrainResult> {
  const info = workflowInfo();
  const runId = input.runId ?? info.workflowId.replace(/[^A-Za-z0-9._-]/g, '-');
  const segmentSteps = input.segmentSteps ?? input.checkpointEvery * 10;
  const segmentsPerRun = input.segmentsPerRun ?? 200;
  const { warehouse, expert, expertConfig, pretrain, weights, seed, backend, steps } = input;
  const stage = { warehouse, expert, expertConfig, pretrain, weights, seed, backend };
  let reached = input.reached ?? 0;
  for (let segment = 0; ; segment++) {
    if (segment >= segmentsPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof enecgPretrain>({ ...input, runId, reached });
    }
    const result = await activities.pretrainSegment({
      ...stage,
      runId,
      untilStep: Math.min(steps, reached + segmentSteps),
    });
    if (result.finished) return result.summary;
    reached = result.step;
  }
}
