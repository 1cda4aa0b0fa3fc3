import { sha256 } from '@enecg/common';
import {
  type BaselineComparison,
  PRIMARY_METRIC,
  type TaskEvaluation,
  type TaskKey,
} from '../evaluation-types.ts';
import {
  type InferenceModel,
  infer,
  inputsOfRows,
  type Predictions,
  type TaskPredictions,
} from '../predict/infer.ts';
import { rowsOfSplit, type Split, type TrainingSet } from '../train/dataset.ts';
import { TASK_SPECS } from '../train/tasks.ts';
import {
  type BootstrapSamples,
  bootstrapSamples,
  intervals,
  pairedDifference,
  subjectBootstrapWeights,
} from './bootstrap.ts';
import { classificationMetrics, type MetricComputer, regressionMetrics } from './metrics.ts';

export interface EvaluateOptions {
  split: Extract<Split, 'test' | 'val'>;
  /** Rows whose labels define the trivial baseline (mean or majority class). */
  trainRows: readonly number[];
  replicates: number;
  seed: number;
  scatterPoints?: number;
  /** Called after each bootstrap (one task, one model), counting replicates over all tasks and models. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

/**
 * Evaluates the ensemble, each expert's own head and the trivial baseline on the same labelled rows
 * of a split, with paired subject-level bootstrap intervals; plus gate-weight statistics.
 */
export function evaluateOnSplit(
  set: TrainingSet,
  model: InferenceModel,
  options: EvaluateOptions,
): Partial<Record<TaskKey, TaskEvaluation>> {
  const rows = rowsOfSplit(set, options.split);
  const predictions = infer(model, inputsOfRows(set, rows));
  const experts = model.shape.experts.map(({ name }) => name);
  const out: Partial<Record<TaskKey, TaskEvaluation>> = {};
  // Each task bootstraps the ensemble, every expert and the baseline.
  const progress = { done: 0, total: model.shape.tasks.length * (experts.length + 2) * options.replicates };
  for (const task of model.shape.tasks) {
    const labels = set.labels[task];
    const positions = labels
      ? rows.flatMap((row, position) => (Number.isFinite(labels[row]) ? [position] : []))
      : [];
    if (!labels || positions.length === 0) {
      progress.total -= (experts.length + 2) * options.replicates;
      continue;
    }
    const taskRows = positions.map((position) => rows[position] as number);
    const truth = Float64Array.from(taskRows, (row) => labels[row] as number);
    const replicates = subjectBootstrapWeights(
      taskRows.map((row) => set.subjectIds[row] as number),
      options.replicates,
      options.seed,
    );
    const predicted = predictions[task] as TaskPredictions;
    const spec = TASK_SPECS[task];
    const pick = (values: Float32Array) => pickRows(values, positions, predicted.classes);
    const baseline = baselineOutput(task, set, options.trainRows, positions.length);
    const computerFor = (values: Float32Array): MetricComputer =>
      spec.kind === 'regression'
        ? regressionMetrics(truth, Float64Array.from(values))
        : classificationMetrics(spec.kind, Int32Array.from(truth), values, predicted.classes);
    const ensemble = pick(predicted.ensemble);
    const samplesOf = (values: Float32Array) => {
      const samples = bootstrapSamples(computerFor(values), replicates, positions.length);
      progress.done += options.replicates;
      options.onProgress?.({ ...progress });
      return samples;
    };
    const ensembleSamples = samplesOf(ensemble);
    const primary = PRIMARY_METRIC[spec.kind].metric;
    const baselineSamples = samplesOf(baseline);
    const expertSamples = experts.map((name) => samplesOf(pick(predicted.experts[name] as Float32Array)));
    const evaluation: TaskEvaluation = {
      kind: spec.kind,
      n: positions.length,
      ensemble: intervals(ensembleSamples),
      experts: Object.fromEntries(
        experts.map((name, e) => [name, intervals(expertSamples[e] as BootstrapSamples)]),
      ),
      baseline: intervals(baselineSamples),
      versusBaseline: pairedComparison(primary, ensembleSamples, baselineSamples),
      ...bestExpertComparison(primary, ensembleSamples, experts, expertSamples),
      paired: {
        rowsSha256: sha256(taskRows.map((row) => set.studyIds[row]).join('\n')),
        metric: primary,
        seed: options.seed,
        replicates: Array.from(ensembleSamples.replicates[primary] ?? [], (value) =>
          Number.isFinite(value) ? value : null,
        ),
      },
      ...gateStatistics(task, predicted, positions, truth, experts),
    };
    if (spec.kind === 'regression') {
      evaluation.scatter = scatterSample(truth, ensemble, options.scatterPoints ?? 500);
    } else {
      evaluation.confusion = confusionMatrix(truth, ensemble, predicted.classes);
    }
    out[task] = evaluation;
  }
  return out;
}

/** One task's bootstrap samples for several models and the baseline, all on the same replicates. */
export interface PairedTaskSamples {
  kind: TaskEvaluation['kind'];
  n: number;
  /** Headline metric: `mae` (lower is better) or `auroc` (higher is better). */
  metric: 'mae' | 'auroc';
  models: Record<string, BootstrapSamples>;
  baseline: BootstrapSamples;
}

/**
 * Several separately trained models (each one's ensemble output) scored on the same labelled rows of a
 * split with the same subject-level replicates, so any two can be compared with `pairedDifference`.
 * `predictions[name]` holds a model's predictions for `rowsOfSplit(set, options.split)`, in that order.
 */
export function pairedSamplesOnSplit(
  set: TrainingSet,
  predictions: Record<string, Predictions>,
  options: EvaluateOptions,
): Partial<Record<TaskKey, PairedTaskSamples>> {
  const rows = rowsOfSplit(set, options.split);
  const out: Partial<Record<TaskKey, PairedTaskSamples>> = {};
  const names = Object.keys(predictions);
  for (const task of Object.keys(TASK_SPECS) as TaskKey[]) {
    const labels = set.labels[task];
    const outputs = names.map((name) => predictions[name]?.[task]);
    if (!labels || names.length === 0 || outputs.some((output) => output === undefined)) continue;
    const positions = rows.flatMap((row, position) => (Number.isFinite(labels[row]) ? [position] : []));
    if (positions.length === 0) continue;
    const taskRows = positions.map((position) => rows[position] as number);
    const truth = Float64Array.from(taskRows, (row) => labels[row] as number);
    const replicates = subjectBootstrapWeights(
      taskRows.map((row) => set.subjectIds[row] as number),
      options.replicates,
      options.seed,
    );
    const spec = TASK_SPECS[task];
    const classes = (outputs[0] as TaskPredictions).classes;
    const samplesOf = (values: Float32Array) =>
      bootstrapSamples(
        spec.kind === 'regression'
          ? regressionMetrics(truth, Float64Array.from(values))
          : classificationMetrics(spec.kind, Int32Array.from(truth), values, classes),
        replicates,
        positions.length,
      );
    out[task] = {
      kind: spec.kind,
      n: positions.length,
      metric: spec.kind === 'regression' ? 'mae' : 'auroc',
      models: Object.fromEntries(
        names.map((name, m) => [
          name,
          samplesOf(pickRows((outputs[m] as TaskPredictions).ensemble, positions, classes)),
        ]),
      ),
      baseline: samplesOf(baselineOutput(task, set, options.trainRows, positions.length)),
    };
  }
  return out;
}

/**
 * The ensemble against the expert head that scores best alone (point estimate on the evaluated split;
 * choosing on the same split favours the expert, so a `better` verdict for the ensemble is conservative).
 */
function bestExpertComparison(
  metric: 'mae' | 'auroc',
  ensemble: BootstrapSamples,
  experts: readonly string[],
  samples: readonly BootstrapSamples[],
): Pick<TaskEvaluation, 'versusBestExpert'> {
  let best = -1;
  samples.forEach((candidate, e) => {
    const value = candidate.point[metric] as number;
    if (!Number.isFinite(value)) return;
    const current = best >= 0 ? ((samples[best] as BootstrapSamples).point[metric] as number) : Number.NaN;
    if (best < 0 || (metric === 'mae' ? value < current : value > current)) best = e;
  });
  if (best < 0) return {};
  return {
    versusBestExpert: {
      expert: experts[best] as string,
      ...pairedComparison(metric, ensemble, samples[best] as BootstrapSamples),
    },
  };
}

/** `ensemble - other` on the headline metric, paired, with the verdict from the ensemble's side. */
function pairedComparison(
  metric: 'mae' | 'auroc',
  ensemble: BootstrapSamples,
  baseline: BootstrapSamples,
): BaselineComparison {
  const difference = pairedDifference(ensemble, baseline, metric);
  // Turned so that positive means the ensemble is better, whichever way the metric points.
  const gain = metric === 'mae' ? { lo: -difference.hi, hi: -difference.lo } : difference;
  const verdict = gain.lo > 0 ? 'better' : gain.hi < 0 ? 'worse' : 'inconclusive';
  return { metric, difference, verdict };
}

function pickRows(values: Float32Array, positions: readonly number[], width: number): Float32Array {
  const out = new Float32Array(positions.length * width);
  positions.forEach((position, i) => {
    out.set(values.subarray(position * width, (position + 1) * width), i * width);
  });
  return out;
}

/** The trivial model: training mean (regression) or training class frequencies (majority class wins). */
function baselineOutput(
  task: TaskKey,
  set: TrainingSet,
  trainRows: readonly number[],
  n: number,
): Float32Array {
  const labels = set.labels[task] as Float64Array;
  const known = trainRows.map((row) => labels[row] as number).filter(Number.isFinite);
  const spec = TASK_SPECS[task];
  if (spec.kind === 'regression') {
    const mean = known.reduce((a, b) => a + b, 0) / Math.max(1, known.length);
    return new Float32Array(n).fill(mean);
  }
  const frequencies = new Float32Array(spec.outputs);
  for (const label of known) frequencies[label] = (frequencies[label] as number) + 1 / known.length;
  const out = new Float32Array(n * spec.outputs);
  for (let i = 0; i < n; i++) out.set(frequencies, i * spec.outputs);
  return out;
}

function gateStatistics(
  task: TaskKey,
  predicted: TaskPredictions,
  positions: readonly number[],
  truth: Float64Array,
  experts: readonly string[],
): Pick<TaskEvaluation, 'gateWeightMean' | 'gateWeightsByGroup'> {
  const E = experts.length;
  const groupOf = groupLabeller(task, truth);
  const sums = new Map<string, Float64Array>();
  const counts = new Map<string, number>();
  const overall = new Float64Array(E);
  positions.forEach((position, i) => {
    const group = groupOf(truth[i] as number);
    const groupSums = sums.get(group) ?? new Float64Array(E);
    for (let e = 0; e < E; e++) {
      const w = predicted.gateWeights[position * E + e] as number;
      overall[e] = (overall[e] as number) + w;
      groupSums[e] = (groupSums[e] as number) + w;
    }
    sums.set(group, groupSums);
    counts.set(group, (counts.get(group) ?? 0) + 1);
  });
  const perExpert = (values: Float64Array, count: number) =>
    Object.fromEntries(experts.map((name, e) => [name, (values[e] as number) / count]));
  const groups = [...sums.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return {
    gateWeightMean: perExpert(overall, positions.length),
    gateWeightsByGroup: Object.fromEntries(
      groups.map((group) => [group, perExpert(sums.get(group) as Float64Array, counts.get(group) as number)]),
    ),
  };
}

/** Classification: the true class; regression: the label's quartile on this split (Q1..Q4). */
function groupLabeller(task: TaskKey, truth: Float64Array): (label: number) => string {
  if (TASK_SPECS[task].kind !== 'regression') return (label) => `class ${label}`;
  const sorted = Float64Array.from(truth).sort();
  const cut = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const bounds = [cut(0.25), cut(0.5), cut(0.75)];
  return (label) => `Q${1 + bounds.filter((bound) => label >= bound).length}`;
}

function confusionMatrix(truth: Float64Array, probabilities: Float32Array, classes: number): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  truth.forEach((label, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if ((probabilities[i * classes + c] as number) > (probabilities[i * classes + best] as number))
        best = c;
    }
    (matrix[label] as number[])[best] = ((matrix[label] as number[])[best] as number) + 1;
  });
  return matrix;
}

function scatterSample(
  truth: Float64Array,
  predicted: Float32Array,
  points: number,
): Array<{ y: number; yhat: number }> {
  const stride = Math.max(1, Math.ceil(truth.length / points));
  const out: Array<{ y: number; yhat: number }> = [];
  for (let i = 0; i < truth.length; i += stride)
    out.push({ y: truth[i] as number, yhat: predicted[i] as number });
  return out;
}
