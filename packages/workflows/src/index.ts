export type { PipelineActivities } from './activities/index.ts';
export { createActivities } from './activities/index.ts';
export { connectClient, newPipelineRunId, startPipeline } from './client.ts';
export type { PipelineConfig, PipelineConfigInput } from './config.ts';
export { loadPipelineConfig, PipelineConfigSchema, validatePipelineConfig } from './config.ts';
export { configuredAddress, resolveTemporalTarget } from './connection.ts';
export type { DevServerOptions, TemporalServer } from './dev-server.ts';
export { assertReachable, connectOrStartServer, startDevServer } from './dev-server.ts';
export type { LocalRunOptions } from './local-run.ts';
export { runPipelineLocally } from './local-run.ts';
export type { LoopDelayReport } from './loop-delay.ts';
export type { PromotionDecision } from './promotion.ts';
export { decidePromotion, PROMOTION_RULE } from './promotion.ts';
export type { RetrainScheduleOptions, ScheduleSummary, TriggerOutcome } from './schedules.ts';
export {
  checkScheduleTiming,
  createRetrainSchedule,
  cronProblem,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  triggerSchedule,
  updateRetrainSchedule,
} from './schedules.ts';
export type { SearchSpace, SweepConfigInput, SweepPlan, TrialParams, TrialSpec } from './sweep/config.ts';
export { expandSearch, loadSweepConfig, SweepConfigSchema, validateSweepConfig } from './sweep/config.ts';
export { hopelessTrials } from './sweep/halving.ts';
export type { LocalSweepOptions } from './sweep/run.ts';
export { runSweepLocally, startSweep } from './sweep/run.ts';
export type { Selection, SelectionCandidate, SelectionRule, TrialResult } from './sweep/selection.ts';
export { paretoFront, selectionCandidate, selectTrial } from './sweep/selection.ts';
export { CPU_TASK_QUEUE, GPU_TASK_QUEUE } from './task-queues.ts';
export { ensureTemporalCli } from './temporal-cli.ts';
export type { PipelineWorkerOptions } from './worker.ts';
export { createPipelineWorker } from './worker.ts';
export type { NightlyResult } from './workflows/nightly.ts';
export type { PipelineInput, PipelineResult } from './workflows/pipeline.ts';
export type { DecisionSummary, RunProgress } from './workflows/progress.ts';
export type { SweepInput, SweepResult } from './workflows/sweep.ts';
