import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  appendLineageEvent,
  codeVersion,
  datasetDigest,
  sha256File,
  warehouseLayout,
  writeFileAtomic,
} from '@enecg/common';
import {
  type EvaluationReport,
  evaluate,
  measureInferenceThroughput,
  tensorBytesInUse,
  train,
} from '@enecg/model';
import { renderSweepReport } from '@enecg/report';
import { asActivity } from '../activities/failures.ts';
import { withHeartbeat } from '../activities/progress.ts';
import { cachedStage } from '../activities/stage-cache.ts';
import {
  describeRule,
  paretoFront,
  type SelectionRule,
  type SplitMetrics,
  selectionCandidate,
  selectTrial,
  type TrialResult,
} from './selection.ts';

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

export interface FinishSweepInput {
  warehouse: string;
  sweepId: string;
  selection: SelectionRule;
  searchDescription: string;
  earlyStoppingRule: string;
  trials: TrialResult[];
}

/**
 * Tensor work of one worker process runs one job at a time: the JavaScript thread is single anyway, and
 * it keeps each trial's memory peak and throughput free of a neighbour's tensors. Parallel trials
 * overlap their data loading here, and their whole work across worker processes.
 */
let tensorLane: Promise<unknown> = Promise.resolve();
function inTensorLane<T>(work: () => Promise<T>): Promise<T> {
  const next = tensorLane.then(work, work);
  tensorLane = next.catch(() => undefined);
  return next;
}

/** Peak tensor bytes (above the level at the start) and peak process RSS while `work` runs. */
async function measurePeaks<T>(
  work: () => Promise<T>,
): Promise<{ result: T; peakTensorBytes: number; peakRssBytes: number }> {
  const startBytes = tensorBytesInUse();
  let peakTensor = startBytes;
  let peakRss = process.memoryUsage.rss();
  const sample = () => {
    peakTensor = Math.max(peakTensor, tensorBytesInUse());
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

/** The sweep's own activities; `createActivities` includes them so every worker can run sweeps. */
export function createSweepActivities() {
  return {
    /**
     * Trains one trial with its cost measured. Cached per trial run id: a restarted sweep (same id) reuses
     * a finished training, and a new sweep retrains, which is what makes two sweeps comparable.
     */
    async trainSweepTrial(input: TrainTrialInput): Promise<TrainedTrial & { cache: { hit: boolean } }> {
      return asActivity(() =>
        withHeartbeat(async () => {
          const featureDigests = await Promise.all(input.featureSets.map((dir) => datasetDigest(dir)));
          const key = {
            stage: 'sweep-train',
            inputs: { labels: input.labelsSha256, features: featureDigests.map((digest) => digest.sha256) },
            config: {
              training: input.training,
              experts: input.experts,
              gateCache: input.gateCache,
              runId: input.runId,
            },
            codeVersion: await codeVersion(),
          };
          return cachedStage(input.warehouse, key, () =>
            inTensorLane(async () => {
              const started = process.hrtime.bigint();
              const { result, peakTensorBytes, peakRssBytes } = await measurePeaks(() =>
                train({
                  warehouse: input.warehouse,
                  runId: input.runId,
                  config: input.training,
                  experts: input.experts,
                  gateCache: input.gateCache,
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
            }),
          );
        }),
      );
    },

    /**
     * Evaluates a trial on the validation and the test split (both kept under the sweep's folder, since
     * the model folder holds one evaluation) and measures its inference throughput.
     */
    async evaluateSweepTrial(
      input: EvaluateTrialInput,
    ): Promise<EvaluatedTrial & { cache: { hit: boolean } }> {
      return asActivity(() =>
        withHeartbeat(async () => {
          const modelDir = join(warehouseLayout(input.warehouse).models, input.modelId);
          const trialDir = join(sweepDir(input.warehouse, input.sweepId), 'trials', input.trialId);
          const key = {
            stage: 'sweep-evaluate',
            inputs: { weights: await sha256File(join(modelDir, 'model.safetensors')) },
            config: {
              replicates: input.replicates,
              seed: input.seed,
              throughput: input.throughput,
              runId: input.runId,
            },
            codeVersion: await codeVersion(),
          };
          return cachedStage(input.warehouse, key, () =>
            inTensorLane(async () => {
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
            }),
          );
        }),
      );
    },

    /** Chooses on validation metrics, computes the Pareto fronts, writes results.json and the report. */
    async finishSweep(input: FinishSweepInput) {
      return asActivity(async () => {
        const dir = sweepDir(input.warehouse, input.sweepId);
        const candidates = input.trials.flatMap((trial) => selectionCandidate(trial) ?? []);
        const selection = selectTrial(candidates, input.selection);
        const tasks = [...new Set(input.trials.flatMap((trial) => trial.tasks))];
        const fronts = Object.fromEntries(
          tasks.map((task) => {
            const metric = task === input.selection.task ? input.selection.metric : defaultMetric(task);
            return [task, { metric, points: paretoFront(candidates, task, metric) }];
          }),
        );
        const resultsPath = join(dir, 'results.json');
        const results = {
          sweepId: input.sweepId,
          selection,
          rule: describeRule(input.selection),
          fronts,
          trials: input.trials,
        };
        await writeFileAtomic(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
        const report = await renderSweepReport({
          dir,
          sweepId: input.sweepId,
          searchDescription: input.searchDescription,
          earlyStoppingRule: input.earlyStoppingRule,
          selectionRule: selection.rule,
          chosen: selection.chosen,
          fronts,
          trials: input.trials,
        });
        await appendLineageEvent(input.warehouse, {
          eventType: 'COMPLETE',
          eventTime: new Date().toISOString(),
          run: { runId: input.sweepId },
          job: { name: 'sweep' },
          inputs: input.trials.map((trial) => ({
            name: `models/${trial.modelId}/model.safetensors`,
            path: join(warehouseLayout(input.warehouse).models, trial.modelId, 'model.safetensors'),
          })),
          outputs: [
            {
              name: `sweeps/${input.sweepId}/results.json`,
              path: resultsPath,
              sha256: await sha256File(resultsPath),
            },
            { name: `sweeps/${input.sweepId}/report.html`, path: report.html, sha256: report.htmlSha256 },
            {
              name: `sweeps/${input.sweepId}/report.md`,
              path: report.markdown,
              sha256: report.markdownSha256,
            },
            // Each trial's evaluations, as the selection read them.
            { name: `sweeps/${input.sweepId}/trials`, path: join(dir, 'trials') },
          ],
          facets: { chosen: selection.chosen, rule: selection.rule, trials: input.trials.length },
        });
        return {
          chosen: selection.chosen,
          rule: selection.rule,
          resultsPath,
          html: report.html,
          markdown: report.markdown,
        };
      });
    },
  };
}

function defaultMetric(task: string): string {
  return task === 'rr_interval' || task === 'age' ? 'mae' : 'auroc';
}
