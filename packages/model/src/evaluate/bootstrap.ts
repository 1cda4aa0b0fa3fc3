import type { MetricSet, MetricValue } from '../evaluation-types.ts';
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

/** A metric set's point estimates and its value on each bootstrap replicate (NaN where undefined). */
export interface BootstrapSamples {
  point: Record<string, number>;
  replicates: Record<string, Float64Array>;
}

export function bootstrapSamples(
  computer: MetricComputer,
  replicates: readonly Float64Array[],
  n: number,
): BootstrapSamples {
  const point = computer.compute(new Float64Array(n).fill(1));
  const samples = Object.fromEntries(
    computer.names.map((name) => [name, new Float64Array(replicates.length)]),
  );
  replicates.forEach((weights, r) => {
    const values = computer.compute(weights);
    for (const name of computer.names) (samples[name] as Float64Array)[r] = values[name] as number;
  });
  return { point, replicates: samples };
}

/** Point estimate on all rows, 95% percentile interval over the replicates (NaN replicates dropped). */
export function intervals(samples: BootstrapSamples): MetricSet {
  const out: MetricSet = {};
  for (const [name, values] of Object.entries(samples.replicates)) {
    out[name] = interval(samples.point[name] as number, values);
  }
  return out;
}

/**
 * `a - b` on one metric, paired: the difference is taken within each replicate, so the interval
 * reflects how the two models differ on the same resampled patients rather than each one's spread.
 */
export function pairedDifference(a: BootstrapSamples, b: BootstrapSamples, metric: string): MetricValue {
  const left = a.replicates[metric] as Float64Array;
  const right = b.replicates[metric] as Float64Array;
  const differences = left.map((value, r) => value - (right[r] as number));
  return interval((a.point[metric] as number) - (b.point[metric] as number), differences);
}

function interval(point: number, values: Float64Array): MetricValue {
  const sorted = values.filter(Number.isFinite).sort();
  return { value: point, lo: quantile(sorted, 0.025), hi: quantile(sorted, 0.975) };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const fraction = position - below;
  return (sorted[below] as number) * (1 - fraction) + (sorted[above] as number) * fraction;
}
