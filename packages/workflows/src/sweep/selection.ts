import type { TaskKey } from '@enecg/model';
import type { SweepSplitMetrics, SweepTrial } from '@enecg/report';
import { metricIsLowerBetter, type SweepPlan } from './config.ts';

/** Per task: the ensemble's metrics with their bootstrap 95% intervals, and the labelled rows. */
export type SplitMetrics = SweepSplitMetrics;

/** How one trial performed and what it cost (the report package renders it). */
export type TrialResult = SweepTrial;

/** All selection may see of a trial: validation metrics and costs. The test split is not in this type. */
export interface SelectionCandidate {
  trialId: string;
  validation: SplitMetrics;
  trainableParameters: number;
  peakTensorBytes: number;
  ecgsPerSecond: number;
}

export type SelectionRule = SweepPlan['selection'];

export interface Selection {
  chosen: string | null;
  rule: string;
  /** Trials that met the efficiency targets and evaluated the task. */
  eligible: string[];
}

/** Copies out of a result exactly what selection may see, so test metrics cannot reach it. */
export function selectionCandidate(result: TrialResult): SelectionCandidate | null {
  if (result.status !== 'complete' || !result.validation || result.ecgsPerSecond === undefined) return null;
  return {
    trialId: result.trialId,
    validation: result.validation,
    trainableParameters: result.trainableParameters,
    peakTensorBytes: result.peakTensorBytes,
    ecgsPerSecond: result.ecgsPerSecond,
  };
}

export function describeRule(rule: SelectionRule): string {
  const direction = metricIsLowerBetter(rule.metric) ? 'lowest' : 'highest';
  const targets = [
    rule.maxPeakTensorMiB === undefined ? '' : `peak tensor memory <= ${rule.maxPeakTensorMiB} MiB`,
    rule.minEcgsPerSecond === undefined ? '' : `throughput >= ${rule.minEcgsPerSecond} ECGs/s`,
  ].filter(Boolean);
  return (
    `${direction} validation ${rule.metric} on ${rule.task}` +
    (targets.length > 0 ? ` among trials with ${targets.join(' and ')}` : '') +
    '; ties go to fewer trainable parameters, then the smaller trial id. Test metrics are not consulted.'
  );
}

/** Chooses one trial by the rule, from validation metrics and costs only. */
export function selectTrial(candidates: readonly SelectionCandidate[], rule: SelectionRule): Selection {
  const sign = metricIsLowerBetter(rule.metric) ? 1 : -1;
  const eligible = candidates.filter(
    (c) =>
      c.validation[rule.task]?.ensemble[rule.metric] !== undefined &&
      Number.isFinite(c.validation[rule.task]?.ensemble[rule.metric]?.value) &&
      (rule.maxPeakTensorMiB === undefined || c.peakTensorBytes <= rule.maxPeakTensorMiB * 2 ** 20) &&
      (rule.minEcgsPerSecond === undefined || c.ecgsPerSecond >= rule.minEcgsPerSecond),
  );
  const score = (c: SelectionCandidate) =>
    sign * (c.validation[rule.task]?.ensemble[rule.metric]?.value as number);
  const ranked = [...eligible].sort(
    (a, b) =>
      score(a) - score(b) ||
      a.trainableParameters - b.trainableParameters ||
      a.trialId.localeCompare(b.trialId),
  );
  return {
    chosen: ranked[0]?.trialId ?? null,
    rule: describeRule(rule),
    eligible: eligible.map((c) => c.trialId),
  };
}

export interface ParetoPoint {
  trialId: string;
  /** The validation metric (higher is better after orienting by the metric's direction). */
  accuracy: number;
  peakTensorBytes: number;
  ecgsPerSecond: number;
}

/**
 * Trials not dominated in (validation metric, peak tensor memory, throughput): no other trial is at
 * least as good in all three and better in one.
 */
export function paretoFront(
  candidates: readonly SelectionCandidate[],
  task: TaskKey,
  metric: string,
): ParetoPoint[] {
  const sign = metricIsLowerBetter(metric) ? -1 : 1;
  const points = candidates.flatMap((c) => {
    const value = c.validation[task]?.ensemble[metric]?.value;
    return value === undefined || !Number.isFinite(value)
      ? []
      : [
          {
            trialId: c.trialId,
            accuracy: value,
            peakTensorBytes: c.peakTensorBytes,
            ecgsPerSecond: c.ecgsPerSecond,
          },
        ];
  });
  const dominates = (a: ParetoPoint, b: ParetoPoint) =>
    sign * a.accuracy >= sign * b.accuracy &&
    a.peakTensorBytes <= b.peakTensorBytes &&
    a.ecgsPerSecond >= b.ecgsPerSecond &&
    (sign * a.accuracy > sign * b.accuracy ||
      a.peakTensorBytes < b.peakTensorBytes ||
      a.ecgsPerSecond > b.ecgsPerSecond);
  return points
    .filter((p) => !points.some((q) => q !== p && dominates(q, p)))
    .sort((a, b) => sign * (b.accuracy - a.accuracy) || a.trialId.localeCompare(b.trialId));
}
