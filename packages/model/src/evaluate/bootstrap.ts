import type { MetricSet } from '../evaluation-types.ts';
import { createRng } from '../train/prng.ts';
import type { MetricComputer } from './metrics.ts';

/**
 * Seeded bootstrap by subject: each replicate draws subjects with replacement and weights every row
 * of a drawn subject by how often it was drawn, so studies of one patient never count as independent.
 * The same replicates serve every model compared (paired intervals).
 */
export function subjectBootstrapWeights(
  subjectIds: readonly number[],
  replicates: number,
  seed: number,
): Float64Array[] {
  const subjects = [...new Set(subjectIds)];
  const rowsOf = new Map<number, number[]>();
  subjectIds.forEach((subject, row) => {
    const rows = rowsOf.get(subject);
    if (rows) rows.push(row);
    else rowsOf.set(subject, [row]);
  });
  const rng = createRng(seed);
  return Array.from({ length: replicates }, () => {
    const weights = new Float64Array(subjectIds.length);
    for (let k = 0; k < subjects.length; k++) {
      const subject = subjects[Math.floor(rng() * subjects.length)] as number;
      for (const row of rowsOf.get(subject) as number[]) weights[row] = (weights[row] as number) + 1;
    }
    return weights;
  });
}

/** Point estimate on all rows, 95% percentile interval over the replicates (NaN replicates dropped). */
export function metricsWithIntervals(
  computer: MetricComputer,
  replicates: readonly Float64Array[],
  n: number,
): MetricSet {
  const point = computer.compute(new Float64Array(n).fill(1));
  const samples = Object.fromEntries(computer.names.map((name) => [name, [] as number[]]));
  for (const weights of replicates) {
    const values = computer.compute(weights);
    for (const name of computer.names) {
      const value = values[name] as number;
      if (Number.isFinite(value)) (samples[name] as number[]).push(value);
    }
  }
  const out: MetricSet = {};
  for (const name of computer.names) {
    const sorted = (samples[name] as number[]).sort((a, b) => a - b);
    out[name] = { value: point[name] as number, lo: quantile(sorted, 0.025), hi: quantile(sorted, 0.975) };
  }
  return out;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const fraction = position - below;
  return (sorted[below] as number) * (1 - fraction) + (sorted[above] as number) * fraction;
}
