import type { EvaluationReport, MetricSet, TaskKey } from '@enecg/model';

/** The metric that decides promotion per task kind, and whether lower is better. */
const PRIMARY: Record<'regression' | 'binary' | 'multiclass', { metric: string; lowerIsBetter: boolean }> = {
  regression: { metric: 'mae', lowerIsBetter: true },
  binary: { metric: 'f1', lowerIsBetter: false },
  multiclass: { metric: 'f1', lowerIsBetter: false },
};

export interface PromotionDecision {
  promote: boolean;
  /** Mean relative improvement of the primary metric over the tasks both models were evaluated on. */
  meanRelativeImprovement: number | null;
  perTask: Array<{
    task: TaskKey;
    metric: string;
    challenger: number;
    champion: number;
    relativeImprovement: number;
  }>;
  reason: string;
}

/**
 * Champion/challenger rule: both reports must come from the same test split (the caller re-evaluates the
 * champion on the current split). The challenger is promoted when the mean relative improvement of the
 * primary metric (MAE for regression, macro F1 for classification) exceeds `minImprovement`.
 */
export function decidePromotion(
  challenger: EvaluationReport,
  champion: EvaluationReport | undefined,
  minImprovement = 0,
): PromotionDecision {
  if (champion === undefined) {
    return { promote: true, meanRelativeImprovement: null, perTask: [], reason: 'no champion yet' };
  }
  const perTask: PromotionDecision['perTask'] = [];
  for (const [task, evaluation] of Object.entries(challenger.tasks) as Array<
    [TaskKey, { kind: keyof typeof PRIMARY; ensemble: MetricSet }]
  >) {
    const rival = champion.tasks[task];
    if (!rival) continue;
    const { metric, lowerIsBetter } = PRIMARY[evaluation.kind];
    const ours = evaluation.ensemble[metric]?.value;
    const theirs = rival.ensemble[metric]?.value;
    if (ours === undefined || theirs === undefined || !Number.isFinite(ours) || !Number.isFinite(theirs))
      continue;
    const scale = Math.max(Math.abs(theirs), Number.EPSILON);
    const relativeImprovement = (lowerIsBetter ? theirs - ours : ours - theirs) / scale;
    perTask.push({ task, metric, challenger: ours, champion: theirs, relativeImprovement });
  }
  if (perTask.length === 0) {
    return {
      promote: false,
      meanRelativeImprovement: null,
      perTask,
      reason: 'no task evaluated on both models',
    };
  }
  const mean = perTask.reduce((sum, t) => sum + t.relativeImprovement, 0) / perTask.length;
  const promote = mean > minImprovement;
  const reason = `mean relative improvement ${(mean * 100).toFixed(2)} % ${promote ? '>' : '<='} ${(minImprovement * 100).toFixed(2)} % over ${perTask.length} task(s)`;
  return { promote, meanRelativeImprovement: mean, perTask, reason };
}
