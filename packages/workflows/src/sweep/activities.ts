import { join } from 'node:path';
import {
  appendLineageEvent,
  codeVersion,
  datasetDigest,
  sha256File,
  warehouseLayout,
  writeFileAtomic,
} from '@enecg/common';
import { renderSweepReport } from '@enecg/report';
import { asActivity } from '../activities/failures.ts';
import { inStageProcess, withHeartbeat } from '../activities/progress.ts';
import { cachedStage } from '../activities/stage-cache.ts';
import {
  describeRule,
  paretoFront,
  type SelectionRule,
  selectionCandidate,
  selectTrial,
  type TrialResult,
} from './selection.ts';
import {
  type EvaluatedTrial,
  type EvaluateTrialInput,
  sweepDir,
  type TrainedTrial,
  type TrainTrialInput,
} from './trial-work.ts';

export interface FinishSweepInput {
  warehouse: string;
  sweepId: string;
  selection: SelectionRule;
  searchDescription: string;
  earlyStoppingRule: string;
  trials: TrialResult[];
}

/**
 * Trials' tensor work runs one at a time per worker (each in a stage process of its own): a trial's
 * time per epoch and throughput are then free of a neighbour's CPU use. Parallel trials overlap their
 * data loading here, and their whole work across worker processes.
 */
let tensorLane: Promise<unknown> = Promise.resolve();
function inTensorLane<T>(work: () => Promise<T>): Promise<T> {
  const next = tensorLane.then(work, work);
  tensorLane = next.catch(() => undefined);
  return next;
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
            inTensorLane(() => inStageProcess('trainTrial', input)),
          );
        }),
      );
    },

    /**
     * Evaluates a trial on the validation and the test split (stored with the model, and copied under the
     * sweep's folder, which the sweep's lineage names as what its selection read) and measures its
     * inference throughput.
     */
    async evaluateSweepTrial(
      input: EvaluateTrialInput,
    ): Promise<EvaluatedTrial & { cache: { hit: boolean } }> {
      return asActivity(() =>
        withHeartbeat(async () => {
          const modelDir = join(warehouseLayout(input.warehouse).models, input.modelId);
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
            inTensorLane(() => inStageProcess('evaluateTrial', input)),
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
