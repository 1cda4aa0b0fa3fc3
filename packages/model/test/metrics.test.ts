import { describe, expect, it } from 'vitest';
import {
  bootstrapSamples,
  intervals,
  pairedDifference,
  subjectBootstrapWeights,
} from '../src/evaluate/bootstrap.ts';
import { classificationMetrics, regressionMetrics } from '../src/evaluate/metrics.ts';

const ones = (n: number) => new Float64Array(n).fill(1);

/** AUROC by counting every (positive, negative) pair, ties one half. */
function bruteAuroc(scores: number[], positive: boolean[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((p, i) => {
    if (!positive[i]) return;
    scores.forEach((q, j) => {
      if (positive[j]) return;
      pairs += 1;
      wins += p > q ? 1 : p === q ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('metrics', () => {
  it('MAE and MSE', () => {
    const m = regressionMetrics(Float64Array.from([1, 2, 3, 4]), Float64Array.from([2, 2, 5, 0])).compute(
      ones(4),
    );
    expect(m.mae).toBeCloseTo((1 + 0 + 2 + 4) / 4);
    expect(m.mse).toBeCloseTo((1 + 0 + 4 + 16) / 4);
  });

  it('weights act as repeated rows', () => {
    const computer = regressionMetrics(Float64Array.from([0, 10]), Float64Array.from([1, 10]));
    expect(computer.compute(Float64Array.from([3, 1])).mae).toBeCloseTo(3 / 4);
  });

  it('accuracy and macro precision/recall/F1 by hand (3 classes)', () => {
    const truth = Int32Array.from([0, 0, 1, 1, 2, 2]);
    const predicted = [0, 1, 1, 1, 0, 2];
    const probabilities = new Float32Array(6 * 3);
    predicted.forEach((c, i) => {
      probabilities[i * 3 + c] = 0.8;
    });
    const m = classificationMetrics('multiclass', truth, probabilities, 3).compute(ones(6));
    expect(m.accuracy).toBeCloseTo(4 / 6);
    const precision = [1 / 2, 2 / 3, 1];
    const recall = [1 / 2, 1, 1 / 2];
    const f1 = precision.map((p, c) => (2 * p * (recall[c] as number)) / (p + (recall[c] as number)));
    expect(m.precision).toBeCloseTo(precision.reduce((a, b) => a + b) / 3);
    expect(m.recall).toBeCloseTo(recall.reduce((a, b) => a + b) / 3);
    expect(m.f1).toBeCloseTo(f1.reduce((a, b) => a + b) / 3);
  });

  it('binary AUROC matches pair counting, ties included', () => {
    const scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.4];
    const positive = [false, true, false, true, false, true, false, true];
    const probabilities = Float32Array.from(scores.flatMap((s) => [1 - s, s]));
    const m = classificationMetrics('binary', Int32Array.from(positive, Number), probabilities, 2).compute(
      ones(scores.length),
    );
    expect(m.auroc).toBeCloseTo(
      bruteAuroc(
        scores.map((s) => Math.fround(s)),
        positive,
      ),
      10,
    );
  });

  it('multiclass AUROC is the mean one-vs-rest AUROC of classes with positives and negatives', () => {
    const truth = Int32Array.from([0, 1, 2, 0, 1, 2, 0]);
    const rows = [
      [0.7, 0.2, 0.1],
      [0.3, 0.4, 0.3],
      [0.2, 0.2, 0.6],
      [0.5, 0.3, 0.2],
      [0.6, 0.3, 0.1],
      [0.1, 0.5, 0.4],
      [0.2, 0.5, 0.3],
    ];
    const m = classificationMetrics('multiclass', truth, Float32Array.from(rows.flat()), 3).compute(ones(7));
    const expected =
      [0, 1, 2]
        .map((c) =>
          bruteAuroc(
            rows.map((r) => Math.fround(r[c] as number)),
            Array.from(truth, (t) => t === c),
          ),
        )
        .reduce((a, b) => a + b) / 3;
    expect(m.auroc).toBeCloseTo(expected, 10);
  });
});

describe('subject bootstrap', () => {
  it('draws whole subjects, seeded', () => {
    const subjects = [1, 1, 2, 3, 3, 3];
    const a = subjectBootstrapWeights(subjects, 50, 42);
    const b = subjectBootstrapWeights(subjects, 50, 42);
    expect(a).toEqual(b);
    expect(subjectBootstrapWeights(subjects, 50, 43)).not.toEqual(a);
    for (const weights of a) {
      expect(weights[0]).toBe(weights[1]);
      expect(weights[3]).toBe(weights[4]);
      expect(weights[4]).toBe(weights[5]);
      const subjectsDrawn = (weights[0] as number) + (weights[2] as number) + (weights[3] as number);
      expect(subjectsDrawn).toBe(3);
    }
  });

  it('intervals bracket the point estimate and narrow with more data', () => {
    const interval = (n: number) => {
      const truth = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
      const predicted = Float64Array.from({ length: n }, (_, i) => Math.sin(i) + Math.cos(7 * i));
      const replicates = subjectBootstrapWeights(
        Array.from({ length: n }, (_, i) => i),
        200,
        1,
      );
      return intervals(bootstrapSamples(regressionMetrics(truth, predicted), replicates, n)).mae;
    };
    const small = interval(50);
    const large = interval(2000);
    for (const m of [small, large]) {
      expect(m?.lo).toBeLessThanOrEqual(m?.value as number);
      expect(m?.hi).toBeGreaterThanOrEqual(m?.value as number);
    }
    expect((large?.hi as number) - (large?.lo as number)).toBeLessThan(
      (small?.hi as number) - (small?.lo as number),
    );
  });

  it('a paired difference is narrower than the overlap of the two intervals suggests', () => {
    // Two predictors that share most of their error: apart they overlap, paired they clearly differ.
    const n = 400;
    const truth = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const shared = Float64Array.from({ length: n }, (_, i) => 3 * Math.cos(11 * i));
    const better = truth.map((y, i) => y + (shared[i] as number));
    const worse = truth.map((y, i) => y + 1.1 * (shared[i] as number));
    const replicates = subjectBootstrapWeights(
      Array.from({ length: n }, (_, i) => i),
      300,
      7,
    );
    const a = bootstrapSamples(regressionMetrics(truth, better), replicates, n);
    const b = bootstrapSamples(regressionMetrics(truth, worse), replicates, n);
    const [betterMae, worseMae] = [intervals(a).mae!, intervals(b).mae!];
    expect(betterMae.hi).toBeGreaterThan(worseMae.lo);
    const difference = pairedDifference(a, b, 'mae');
    expect(difference.value).toBeCloseTo(betterMae.value - worseMae.value, 12);
    expect(difference.hi).toBeLessThan(0);
  });
});
