import type { TaskKind } from '../evaluation-types.ts';

/**
 * Metrics over n labelled rows with a weight per row. Bootstrap replicates are expressed as weights
 * (how often each row was drawn), which lets AUROC reuse one sort per class for every replicate.
 */
export interface MetricComputer {
  names: readonly string[];
  compute(weights: Float64Array): Record<string, number>;
}

export function regressionMetrics(truth: Float64Array, predicted: Float64Array): MetricComputer {
  return {
    names: ['mae', 'mse'],
    compute(weights) {
      let total = 0;
      let absolute = 0;
      let squared = 0;
      for (let i = 0; i < truth.length; i++) {
        const w = weights[i] as number;
        if (w === 0) continue;
        const error = (predicted[i] as number) - (truth[i] as number);
        total += w;
        absolute += w * Math.abs(error);
        squared += w * error * error;
      }
      return { mae: absolute / total, mse: squared / total };
    },
  };
}

/**
 * Accuracy, macro precision/recall/F1 over the classes present (in truth or prediction, as
 * scikit-learn does; a class never predicted has precision 0), and macro one-vs-rest AUROC over the
 * classes that have both positives and negatives (for two classes: the AUROC of class 1).
 */
export function classificationMetrics(
  kind: TaskKind,
  truth: Int32Array,
  probabilities: Float32Array,
  classes: number,
): MetricComputer {
  const n = truth.length;
  const predicted = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if ((probabilities[i * classes + c] as number) > (probabilities[i * classes + best] as number))
        best = c;
    }
    predicted[i] = best;
  }
  const scoredClasses = kind === 'binary' ? [1] : Array.from({ length: classes }, (_, c) => c);
  const orders = scoredClasses.map((c) => {
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort(
      (a, b) => (probabilities[a * classes + c] as number) - (probabilities[b * classes + c] as number),
    );
    return { c, order: Int32Array.from(order) };
  });
  return {
    names: ['accuracy', 'precision', 'recall', 'f1', 'auroc'],
    compute(weights) {
      const truePositive = new Float64Array(classes);
      const truthCount = new Float64Array(classes);
      const predictedCount = new Float64Array(classes);
      let total = 0;
      let correct = 0;
      for (let i = 0; i < n; i++) {
        const w = weights[i] as number;
        if (w === 0) continue;
        const t = truth[i] as number;
        const p = predicted[i] as number;
        total += w;
        truthCount[t] = (truthCount[t] as number) + w;
        predictedCount[p] = (predictedCount[p] as number) + w;
        if (t === p) {
          correct += w;
          truePositive[t] = (truePositive[t] as number) + w;
        }
      }
      let precision = 0;
      let recall = 0;
      let f1 = 0;
      let present = 0;
      for (let c = 0; c < classes; c++) {
        if ((truthCount[c] as number) === 0 && (predictedCount[c] as number) === 0) continue;
        present += 1;
        const tp = truePositive[c] as number;
        const p = (predictedCount[c] as number) > 0 ? tp / (predictedCount[c] as number) : 0;
        const r = (truthCount[c] as number) > 0 ? tp / (truthCount[c] as number) : 0;
        precision += p;
        recall += r;
        f1 += p + r > 0 ? (2 * p * r) / (p + r) : 0;
      }
      let aurocSum = 0;
      let aurocClasses = 0;
      for (const { c, order } of orders) {
        const value = weightedAuroc(
          order,
          (i) => truth[i] === c,
          (i) => probabilities[i * classes + c] as number,
          weights,
        );
        if (Number.isFinite(value)) {
          aurocSum += value;
          aurocClasses += 1;
        }
      }
      return {
        accuracy: correct / total,
        precision: precision / present,
        recall: recall / present,
        f1: f1 / present,
        auroc: aurocClasses > 0 ? aurocSum / aurocClasses : Number.NaN,
      };
    },
  };
}

/** Mann-Whitney AUROC with row weights over rows presorted by score (ties count one half). */
function weightedAuroc(
  order: Int32Array,
  isPositive: (row: number) => boolean,
  score: (row: number) => number,
  weights: Float64Array,
): number {
  let negativesBelow = 0;
  let positives = 0;
  let area = 0;
  let start = 0;
  while (start < order.length) {
    let end = start;
    const value = score(order[start] as number);
    let groupPositive = 0;
    let groupNegative = 0;
    while (end < order.length && score(order[end] as number) === value) {
      const row = order[end] as number;
      const w = weights[row] as number;
      if (isPositive(row)) groupPositive += w;
      else groupNegative += w;
      end += 1;
    }
    area += groupPositive * (negativesBelow + 0.5 * groupNegative);
    negativesBelow += groupNegative;
    positives += groupPositive;
    start = end;
  }
  return positives > 0 && negativesBelow > 0 ? area / (positives * negativesBelow) : Number.NaN;
}
