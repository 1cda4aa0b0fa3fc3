import type { IngestOptions } from '@enecg/ingest';
import type {
  CacheFeaturesOptions,
  EvaluateStageOptions,
  PretrainSegmentOptions,
  TrainOptions,
} from '@enecg/model';
import type { renderReport } from '@enecg/report';
import type { EvaluateTrialInput, TrainTrialInput } from '../sweep/trial-work.ts';

type Progress = (progress: unknown) => void;

/**
 * The CPU-bound work that activities run in a stage process (see stage-process.ts), by name: each job
 * calls the very stage function its `enecg <stage>` command calls, importing only its own package (a
 * stage process starts faster without TensorFlow.js when it does not need it). Inputs and results cross
 * the process boundary by structured clone, so they are the small, plain objects an activity takes and
 * returns. `report` forwards a stage's progress counts to the activity, which heartbeats them.
 */
export const stageJobs = {
  ingest: async (options: Omit<IngestOptions, 'onProgress'>, report: Progress) =>
    (await import('@enecg/ingest')).ingest({ ...options, onProgress: report }),
  pretrain: async (options: Omit<PretrainSegmentOptions, 'onProgress'>, report: Progress) =>
    (await import('@enecg/model')).pretrainSegment({ ...options, onProgress: report }),
  cacheFeatures: async (options: Omit<CacheFeaturesOptions, 'onProgress'>, report: Progress) =>
    (await import('@enecg/model')).cacheFeatures({ ...options, onProgress: report }),
  train: async (options: Omit<TrainOptions, 'onProgress'>, report: Progress) =>
    (await import('@enecg/model')).train({ ...options, onProgress: report }),
  evaluate: async (options: Omit<EvaluateStageOptions, 'onProgress'>, report: Progress) =>
    (await import('@enecg/model')).evaluate({ ...options, onProgress: report }),
  renderReport: async (options: Parameters<typeof renderReport>[0]) =>
    (await import('@enecg/report')).renderReport(options),
  trainTrial: async (input: TrainTrialInput) => (await import('../sweep/trial-work.ts')).trainTrial(input),
  evaluateTrial: async (input: EvaluateTrialInput) =>
    (await import('../sweep/trial-work.ts')).evaluateTrial(input),
};

/** Loads every job's package: a spare stage process does it while it waits for its job. */
export async function preloadStagePackages(): Promise<void> {
  await Promise.all([import('@enecg/ingest'), import('@enecg/model'), import('@enecg/report')]);
}

export type StageJobs = typeof stageJobs;
export type StageJobName = keyof StageJobs;
export type StageJobInput<K extends StageJobName> = Parameters<StageJobs[K]>[0];
export type StageJobResult<K extends StageJobName> = Awaited<ReturnType<StageJobs[K]>>;
