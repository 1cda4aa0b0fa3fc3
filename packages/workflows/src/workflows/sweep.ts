import { executeChild } from '@temporalio/workflow';
import type { SweepPlan, TrialSpec } from '../sweep/config.ts';
import { hopelessTrials } from '../sweep/halving.ts';
import type { TrialResult } from '../sweep/selection.ts';
import { CPU_TASK_QUEUE } from '../task-queues.ts';
import { cpu, cpuQuick, prepareInputs } from './shared-stages.ts';

export interface SweepInput {
  /** Validated and expanded by the client before the workflow starts (see validateSweepConfig). */
  plan: SweepPlan;
}

export interface SweepResult {
  sweepId: string;
  trials: number;
  completed: number;
  stoppedEarly: number;
  chosen: string | null;
  rule: string;
  resultsPath: string;
  html: string;
  markdown: string;
}

/** What every trial of a sweep shares: where the data is and which cached inputs to train on. */
interface TrialContext {
  warehouse: string;
  sweepId: string;
  experts: string[];
  labelsSha256: string;
  labelSet?: string;
  /** The experts' feature-set folders (each trial adds its gate input's). */
  featureSets: string[];
  replicates: number;
  seed: number;
  throughput: { rows: number; passes: number };
}

export interface TrialInput {
  context: TrialContext;
  trial: TrialSpec;
  /** The trial's gate input: its cache key under features/raw-leads/ and its folder. */
  gate: { cache: string; dir: string };
  /** `screen` trains for `epochs` only and reports the validation loss; `full` trains and evaluates. */
  phase: 'screen' | 'full';
  epochs: number;
}

export type TrialOutcome =
  | { phase: 'screen'; trialId: string; valLoss: number; result: TrialResult }
  | { phase: 'full'; trialId: string; result: TrialResult };

/** Runs `work` over `items` with at most `limit` in flight; results keep the items' order. */
async function boundedAll<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

const gateKey = (gate: { leads: string[]; length: number }) => `${gate.leads.join('+')}@${gate.length}`;

/**
 * A sweep: the shared stages once (ingest, labels, every expert's features and one gate input per distinct
 * leads/length), then one child workflow per trial with at most `maxParallel` in flight. With early
 * stopping, every trial is first screened for a few epochs and the hopeless ones stop (see
 * `hopelessTrials`); the rest train fully and are evaluated on validation and test. Child workflow ids and
 * stage caches are per sweep id and trial id, so a sweep resumed after a crash reuses finished trials.
 */
export async function enecgSweep({ plan }: SweepInput): Promise<SweepResult> {
  const { pipeline: config, sweepId } = plan;
  const { warehouse } = config;
  const runId = sweepId;

  const gateInputs = [...new Map(plan.trials.map((t) => [gateKey(t.gateInput), t.gateInput])).entries()];
  const { labels, experts, gates } = await prepareInputs(
    config,
    runId,
    gateInputs.map(([, gate]) => gate),
  );
  const gateOf = new Map(
    gateInputs.map(([key], i) => {
      const gate = gates[i] as (typeof gates)[number];
      return [key, { cache: gate.featureSetId.split('/')[1] as string, dir: gate.dir }];
    }),
  );

  const context: TrialContext = {
    warehouse,
    sweepId,
    experts: experts.map((f) => f.featureSetId),
    labelsSha256: labels.output.sha256,
    labelSet: labels.labelSet,
    featureSets: experts.map((f) => f.dir),
    replicates: config.evaluation.replicates,
    seed: config.evaluation.seed,
    throughput: plan.throughput,
  };
  const runTrial = (trial: TrialSpec, phase: TrialInput['phase'], epochs: number) =>
    executeChild(enecgSweepTrial, {
      workflowId: phase === 'full' ? `${sweepId}-${trial.trialId}` : `${sweepId}-${trial.trialId}-screen`,
      taskQueue: CPU_TASK_QUEUE,
      args: [
        {
          context,
          trial,
          gate: gateOf.get(gateKey(trial.gateInput)) as TrialInput['gate'],
          phase,
          epochs,
        },
      ],
    });

  let survivors = plan.trials;
  const stopped: TrialResult[] = [];
  if (plan.earlyStopping) {
    const { screenEpochs, margin } = plan.earlyStopping;
    const screened = await boundedAll(plan.trials, plan.maxParallel, (trial) =>
      runTrial(trial, 'screen', Math.min(screenEpochs, trial.maxEpochs)),
    );
    const hopeless = hopelessTrials(
      screened.map((outcome, i) => ({
        trialId: outcome.trialId,
        lossGroup: (plan.trials[i] as TrialSpec).lossGroup,
        valLoss: outcome.phase === 'screen' ? outcome.valLoss : Number.NaN,
      })),
      margin,
    );
    survivors = plan.trials.filter((trial) => !hopeless.has(trial.trialId));
    stopped.push(...screened.filter((o) => hopeless.has(o.trialId)).map((o) => o.result));
  }
  const completed = await boundedAll(survivors, plan.maxParallel, async (trial) => {
    const outcome = await runTrial(trial, 'full', trial.maxEpochs);
    return outcome.result;
  });
  const order = new Map(plan.trials.map((t, i) => [t.trialId, i]));
  const trials = [...completed, ...stopped].sort(
    (a, b) => (order.get(a.trialId) ?? 0) - (order.get(b.trialId) ?? 0),
  );

  const finished = await cpuQuick.finishSweep({
    warehouse,
    sweepId,
    selection: plan.selection,
    searchDescription: describeSearch(plan),
    earlyStoppingRule: plan.earlyStopping
      ? `every trial first trained ${plan.earlyStopping.screenEpochs} epoch(s); a trial whose best validation loss was worse than the best of its loss group (same tasks, loss weights and target scaling) by more than ${plan.earlyStopping.margin} x |best| stopped there, the others trained their full budget with validation-based early stopping`
      : 'none: every trial trained its full budget with validation-based early stopping',
    trials,
  });
  return {
    sweepId,
    trials: trials.length,
    completed: completed.length,
    stoppedEarly: stopped.length,
    chosen: finished.chosen,
    rule: finished.rule,
    resultsPath: finished.resultsPath,
    html: finished.html,
    markdown: finished.markdown,
  };
}

function describeSearch(plan: SweepPlan): string {
  const keys = Object.keys(plan.search.space).join(', ');
  return plan.search.method === 'grid'
    ? `Grid search over ${keys}: ${plan.trials.length} trials`
    : `Random search (seed ${plan.search.seed}) over ${keys}: ${plan.trials.length} trials`;
}

/** One trial: train (screening budget, or full budget then evaluation on val and test and throughput). */
export async function enecgSweepTrial(input: TrialInput): Promise<TrialOutcome> {
  const { context, trial } = input;
  const runId = `${context.sweepId}-${trial.trialId}`;
  const trained = await cpu.trainSweepTrial({
    warehouse: context.warehouse,
    sweepId: context.sweepId,
    trialId: trial.trialId,
    runId,
    training: { ...trial.training, maxEpochs: input.epochs },
    experts: context.experts,
    gateCache: input.gate.cache,
    labelsSha256: context.labelsSha256,
    labelSet: context.labelSet,
    featureSets: [...context.featureSets, input.gate.dir],
  });
  const result: TrialResult = {
    trialId: trial.trialId,
    runId,
    params: trial.params,
    tasks: trial.tasks,
    status: input.phase === 'full' ? 'complete' : 'stopped-early',
    modelId: trained.modelId,
    epochsRun: trained.epochsRun,
    bestEpoch: trained.bestEpoch,
    trainableParameters: trained.trainableParameters,
    totalParameters: trained.totalParameters,
    secondsPerEpoch: trained.secondsPerEpoch,
    peakTensorBytes: trained.peakTensorBytes,
    peakRssBytes: trained.peakRssBytes,
  };
  if (input.phase === 'screen') {
    return {
      phase: 'screen',
      trialId: trial.trialId,
      valLoss: trained.bestValLoss,
      result: { ...result, screenValLoss: trained.bestValLoss },
    };
  }
  const evaluated = await cpu.evaluateSweepTrial({
    warehouse: context.warehouse,
    sweepId: context.sweepId,
    trialId: trial.trialId,
    runId,
    modelId: trained.modelId,
    replicates: context.replicates,
    seed: context.seed,
    throughput: context.throughput,
  });
  return {
    phase: 'full',
    trialId: trial.trialId,
    result: {
      ...result,
      ecgsPerSecond: evaluated.ecgsPerSecond,
      validation: evaluated.validation,
      test: evaluated.test,
    },
  };
}
