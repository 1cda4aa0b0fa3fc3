import type { EvaluationReport, MetricValue, TaskKey } from '@enecg/model';
import { PRIMARY_METRIC } from '@enecg/model';

/**
 * The champion/challenger rule, versioned so that every stored decision says which rule made it.
 *
 * paired-bootstrap-v1: both models are evaluated on the validation split (the test split stays for
 * reporting), on exactly the same rows (equal split and per-task row hashes) and the same bootstrap
 * replicates (equal seed and count). Per task, the difference of the primary metric (MAE for regression,
 * macro AUROC for classification) is taken within each replicate, turned so that positive means the
 * challenger is better, with its percentile interval at the configured confidence (default 95%): `better` when the interval lies above 0, `worse`
 * when below, otherwise `tie` (also when the metric is undefined on the task, e.g. one class only). The
 * challenger is promoted when no task is worse and at least one is better. Differences are absolute, in the
 * metric's units, so a metric at 0 cannot blow up a ratio.
 */
export const PROMOTION_RULE = 'paired-bootstrap-v1';

export type TaskVerdict = 'better' | 'worse' | 'tie';

export interface TaskComparison {
  task: TaskKey;
  metric: string;
  lowerIsBetter: boolean;
  champion: number;
  challenger: number;
  /** Challenger's improvement over the champion (positive = better), with its paired 95% interval. */
  improvement: MetricValue;
  verdict: TaskVerdict;
}

export interface PromotionDecision {
  rule: typeof PROMOTION_RULE;
  confidence: number;
  promote: boolean;
  verdict: 'promote' | 'keep' | 'first-champion' | 'not-comparable';
  /** The split both evaluations were on, by the hash of its study ids. */
  split: { name: string; sha256: string | null };
  perTask: TaskComparison[];
  reason: string;
}

function notComparable(
  reason: string,
  split: PromotionDecision['split'],
  confidence: number,
): PromotionDecision {
  return {
    rule: PROMOTION_RULE,
    confidence,
    promote: false,
    verdict: 'not-comparable',
    split,
    perTask: [],
    reason,
  };
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/** Applies `PROMOTION_RULE` to two evaluations; `champion` undefined means there is none yet. */
export function decidePromotion(
  challenger: EvaluationReport,
  champion: EvaluationReport | undefined,
  confidence = 0.95,
): PromotionDecision {
  const split = { name: challenger.split, sha256: challenger.splitSha256 ?? null };
  if (challenger.split !== 'val') {
    return notComparable(
      `the challenger was evaluated on ${challenger.split}, promotion decides on val`,
      split,
      confidence,
    );
  }
  if (champion === undefined) {
    return {
      rule: PROMOTION_RULE,
      confidence,
      promote: true,
      verdict: 'first-champion',
      split,
      perTask: [],
      reason: 'no champion yet',
    };
  }
  if (champion.split !== challenger.split || champion.splitSha256 !== challenger.splitSha256) {
    return notComparable(
      `the models were evaluated on different splits (${champion.split} ${champion.splitSha256 ?? '?'} vs ${challenger.split} ${challenger.splitSha256 ?? '?'})`,
      split,
      confidence,
    );
  }
  const perTask: TaskComparison[] = [];
  for (const [task, ours] of Object.entries(challenger.tasks) as Array<
    [TaskKey, NonNullable<EvaluationReport['tasks'][TaskKey]>]
  >) {
    const theirs = champion.tasks[task];
    if (!theirs) continue;
    const { metric, lowerIsBetter } = PRIMARY_METRIC[ours.kind];
    const a = ours.paired;
    const b = theirs.paired;
    if (!a || !b || a.metric !== metric || b.metric !== metric) {
      return notComparable(`${task}: an evaluation lacks paired ${metric} replicates`, split, confidence);
    }
    if (a.rowsSha256 !== b.rowsSha256) {
      return notComparable(`${task}: the models were evaluated on different rows`, split, confidence);
    }
    if (a.seed !== b.seed || a.replicates.length !== b.replicates.length) {
      return notComparable(`${task}: the bootstrap replicates differ (seed or count)`, split, confidence);
    }
    const sign = lowerIsBetter ? -1 : 1;
    const differences = a.replicates
      .flatMap((value, r) => {
        const other = b.replicates[r];
        return value === null || other === null || other === undefined ? [] : [sign * (value - other)];
      })
      .sort((x, y) => x - y);
    const challengerValue = ours.ensemble[metric]?.value ?? Number.NaN;
    const championValue = theirs.ensemble[metric]?.value ?? Number.NaN;
    const improvement = {
      value: sign * (challengerValue - championValue),
      lo: percentile(differences, (1 - confidence) / 2),
      hi: percentile(differences, 1 - (1 - confidence) / 2),
    };
    const measurable = Number.isFinite(improvement.lo) && Number.isFinite(improvement.hi);
    const verdict: TaskVerdict =
      measurable && improvement.lo > 0 ? 'better' : measurable && improvement.hi < 0 ? 'worse' : 'tie';
    perTask.push({
      task,
      metric,
      lowerIsBetter,
      champion: championValue,
      challenger: challengerValue,
      improvement,
      verdict,
    });
  }
  if (perTask.length === 0) return notComparable('no task was evaluated on both models', split, confidence);
  const worse = perTask.filter((t) => t.verdict === 'worse').map((t) => t.task);
  const better = perTask.filter((t) => t.verdict === 'better').map((t) => t.task);
  const promote = worse.length === 0 && better.length > 0;
  const reason =
    worse.length > 0
      ? `significantly worse on ${worse.join(', ')}`
      : better.length > 0
        ? `significantly better on ${better.join(', ')}, worse on none`
        : `no task significantly better or worse (${perTask.length} tied)`;
  return {
    rule: PROMOTION_RULE,
    confidence,
    promote,
    verdict: promote ? 'promote' : 'keep',
    split,
    perTask,
    reason,
  };
}
