import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { warehouseLayout, writeFileAtomic } from '@enecg/common';
import {
  activeBackend,
  type EvaluationReport,
  evaluate,
  measureInferenceThroughput,
  tensorBytesInUse,
  train,
} from '@enecg/model';
import type { SplitMetrics } from './selection.ts';

/**
 * The tensor work of a sweep trial. It runs in a stage process of its own (see
 * activities/stage-process.ts), so the peaks measured here are the trial's alone.
 */

export function sweepDir(warehouse: string, sweepId: string): string {
  return join(warehouseLayout(warehouse).root, 'sweeps', sweepId);
}

export interface TrainTrialInput {
  warehouse: string;
  sweepId: string;
  trialId: string;
  /** Lineage run id of the trial: `<sweepId>-<trialId>`. */
  runId: string;
  training: Record<string, unknown>;
  /** Pinned feature caches (`expert/key`). */
  experts: string[];
  gateCache: string;
  /** The label table's hash and the feature-set folders (experts' and gate input's) trained on. */
  labelsSha256: string;
  /** The label set (`deriveLabels`'s) trained on. */
  labelSet?: string;
  featureSets: string[];
}

export interface TrainedTrial {
  modelId: string;
  epochsRun: number;
  bestEpoch: number;
  bestValLoss: number;
  trainableParameters: number;
  totalParameters: number;
  secondsPerEpoch: number;
  peakTensorBytes: number;
  peakRssBytes: number;
}

export interface EvaluateTrialInput {
  warehouse: string;
  sweepId: string;
  trialId: string;
  runId: string;
  modelId: string;
  replicates: number;
  seed: number;
  throughput: { rows: number; passes: number };
}

export interface EvaluatedTrial {
  validation: SplitMetrics;
  test: SplitMetrics;
  ecgsPerSecond: number;
}

/** A stage-cache entry: the summary and the files it names. */
export interface TrialOutputs<T> {
  summary: T;
  outputs: string[];
}

/** Bytes held by tensors: none before the stage has chosen its backend (in a fresh stage process). */
function tensorBytes(): number {
  return activeBackend() === undefined ? 0 : tensorBytesInUse();
}

/** Peak tensor bytes (above the level at the start) and peak process RSS while `work` runs. */
async function measurePeaks<T>(
  work: () => Promise<T>,
): Promise<{ result: T; peakTensorBytes: number; peakRssBytes: number }> {
  const startBytes = tensorBytes();
  let peakTensor = startBytes;
  let peakRss = process.memoryUsage.rss();
  const sample = () => {
    peakTensor = Math.max(peakTensor, tensorBytes());
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, 10);
  try {
    const result = await work();
    sample();
    return { result, peakTensorBytes: peakTensor - startBytes, peakRssBytes: peakRss };
  } finally {
    clearInterval(timer);
  }
}

function splitMetrics(report: EvaluationReport): SplitMetrics {
  return Object.fromEntries(
    Object.entries(report.tasks).map(([task, evaluation]) => [
      task,
      { n: evaluation.n, ensemble: evaluation.ensemble },
    ]),
  );
}

/** Trains one trial with its cost measured (time per epoch, tensor and RSS peaks). */
export async function trainTrial(input: TrainTrialInput): Promise<TrialOutputs<TrainedTrial>> {
  const started = process.hrtime.bigint();
  const { result, peakTensorBytes, peakRssBytes } = await measurePeaks(() =>
    train({
      warehouse: input.warehouse,
      runId: input.runId,
      config: input.training,
      experts: input.experts,
      gateCache: input.gateCache,
      labelSet: input.labelSet,
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const manifest = JSON.parse(await readFile(join(result.modelDir, 'model.json'), 'utf8')) as {
    trainingCurve: Array<{ valLoss: number }>;
  };
  const summary: TrainedTrial = {
    modelId: result.modelId,
    epochsRun: result.epochsRun,
    bestEpoch: result.bestEpoch,
    bestValLoss: Math.min(...manifest.trainingCurve.map((epoch) => epoch.valLoss)),
    trainableParameters: result.trainableParameters,
    totalParameters: result.totalParameters,
    secondsPerEpoch: seconds / Math.max(1, result.epochsRun),
    peakTensorBytes,
    peakRssBytes,
  };
  return { summary, outputs: [join(result.modelDir, 'model.safetensors')] };
}

/**
 * Evaluates a trial on the validation and the test split (stored with the model, and copied under the
 * sweep's folder, which the sweep's lineage names as what its selection read) and measures its inference
 * throughput.
 */
export async function evaluateTrial(input: EvaluateTrialInput): Promise<TrialOutputs<EvaluatedTrial>> {
  const trialDir = join(sweepDir(input.warehouse, input.sweepId), 'trials', input.trialId);
  const metrics: Partial<Record<'val' | 'test', SplitMetrics>> = {};
  const outputs: string[] = [];
  for (const split of ['val', 'test'] as const) {
    const { evaluationPath } = await evaluate({
      warehouse: input.warehouse,
      modelId: input.modelId,
      runId: input.runId,
      split,
      replicates: input.replicates,
      seed: input.seed,
    });
    const text = await readFile(evaluationPath, 'utf8');
    const kept = join(trialDir, `evaluation-${split}.json`);
    await writeFileAtomic(kept, text);
    outputs.push(kept);
    metrics[split] = splitMetrics(JSON.parse(text) as EvaluationReport);
  }
  const throughput = await measureInferenceThroughput({
    warehouse: input.warehouse,
    modelId: input.modelId,
    split: 'test',
    ...input.throughput,
  });
  const summary: EvaluatedTrial = {
    validation: metrics.val as SplitMetrics,
    test: metrics.test as SplitMetrics,
    ecgsPerSecond: throughput.ecgsPerSecond,
  };
  return { summary, outputs };
}
