import { type IngestOptions, ingest } from '@enecg/ingest';
import {
  type CacheFeaturesOptions,
  cacheFeatures,
  type EvaluateStageOptions,
  evaluate,
  type TrainOptions,
  train,
} from '@enecg/model';
import { renderReport } from '@enecg/report';
import { evaluateTrial, trainTrial } from '../sweep/trial-work.ts';

/**
 * The CPU-bound work that activities run in a stage process (see stage-process.ts), by name: each job
 * calls the very stage function its `enecg <stage>` command calls. Inputs and results cross the process
 * boundary by structured clone, so they are the small, plain objects an activity takes and returns.
 * `report` forwards a stage's progress counts to the activity, which heartbeats them.
 */
export const stageJobs = {
  ingest: (options: Omit<IngestOptions, 'onProgress'>, report: (progress: unknown) => void) =>
    ingest({ ...options, onProgress: report }),
  cacheFeatures: (options: Omit<CacheFeaturesOptions, 'onProgress'>, report: (progress: unknown) => void) =>
    cacheFeatures({ ...options, onProgress: report }),
  train: (options: TrainOptions) => train(options),
  evaluate: (options: EvaluateStageOptions) => evaluate(options),
  renderReport: (options: Parameters<typeof renderReport>[0]) => renderReport(options),
  trainTrial,
  evaluateTrial,
};

export type StageJobs = typeof stageJobs;
export type StageJobName = keyof StageJobs;
export type StageJobInput<K extends StageJobName> = Parameters<StageJobs[K]>[0];
export type StageJobResult<K extends StageJobName> = Awaited<ReturnType<StageJobs[K]>>;
