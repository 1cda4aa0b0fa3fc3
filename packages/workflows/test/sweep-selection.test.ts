import type { MetricSet } from '@enecg/model';
import { describe, expect, it } from 'vitest';
import { hopelessTrials } from '../src/sweep/halving.ts';
import {
  paretoFront,
  type SelectionCandidate,
  type SelectionRule,
  selectionCandidate,
  selectTrial,
  type TrialResult,
} from '../src/sweep/selection.ts';

const metric = (value: number): MetricSet => ({
  auroc: { value, lo: value - 0.05, hi: value + 0.05 },
  f1: { value: value / 2, lo: 0, hi: 1 },
});

function trial(
  id: string,
  valAuroc: number,
  testAuroc: number,
  cost: Partial<TrialResult> = {},
): TrialResult {
  return {
    trialId: id,
    runId: `sweep-x-${id}`,
    params: { loraRank: 4 },
    tasks: ['report_label'],
    status: 'complete',
    modelId: `moe-${id}`,
    epochsRun: 2,
    bestEpoch: 2,
    trainableParameters: 1000,
    totalParameters: 5000,
    secondsPerEpoch: 1,
    peakTensorBytes: 2 ** 20,
    peakRssBytes: 2 ** 28,
    ecgsPerSecond: 1000,
    validation: { report_label: { n: 10, ensemble: metric(valAuroc) } },
    test: { report_label: { n: 10, ensemble: metric(testAuroc) } },
    ...cost,
  };
}

const rule: SelectionRule = { task: 'report_label', metric: 'auroc' };

describe('sweep selection', () => {
  const trials = [trial('a', 0.7, 0.9), trial('b', 0.8, 0.6), trial('c', 0.75, 0.99)];

  it('chooses on validation metrics and never reads the test split', () => {
    const guarded = trials.map(
      (t) =>
        new Proxy(t, {
          get(target, key, receiver) {
            if (key === 'test') throw new Error(`selection read the test metrics of ${target.trialId}`);
            return Reflect.get(target, key, receiver);
          },
        }),
    );
    const candidates = guarded.flatMap((t) => selectionCandidate(t) ?? []);
    expect(candidates.every((c) => !('test' in c))).toBe(true);
    expect(selectTrial(candidates, rule).chosen).toBe('b');
  });

  it('gives the same choice whatever the test metrics are', () => {
    const choose = (list: TrialResult[]) =>
      selectTrial(
        list.flatMap((t) => selectionCandidate(t) ?? []),
        rule,
      );
    const perturbed = trials.map((t, i) => ({
      ...t,
      test: { report_label: { n: 10, ensemble: metric([1, 0, 0.5][i] as number) } },
    }));
    expect(choose(perturbed)).toEqual(choose(trials));
    // The candidate type has no place for test metrics: a test field is a type error.
    const leaked: SelectionCandidate = {
      ...(selectionCandidate(trials[0] as TrialResult) as SelectionCandidate),
      // @ts-expect-error test metrics are not part of what selection sees
      test: {},
    };
    expect(leaked.trialId).toBe('a');
  });

  it('applies efficiency targets, then breaks ties by fewer trainable parameters', () => {
    const list = [
      trial('big', 0.8, 0.5, { trainableParameters: 5000, peakTensorBytes: 8 * 2 ** 20 }),
      trial('small', 0.8, 0.5, { trainableParameters: 100 }),
      trial('slow', 0.9, 0.5, { ecgsPerSecond: 10 }),
    ];
    const candidates = list.flatMap((t) => selectionCandidate(t) ?? []);
    expect(selectTrial(candidates, rule).chosen).toBe('slow');
    const targeted = selectTrial(candidates, { ...rule, minEcgsPerSecond: 100 });
    expect(targeted.chosen).toBe('small');
    expect(targeted.rule).toMatch(/throughput >= 100 ECGs\/s/);
    expect(selectTrial(candidates, { ...rule, minEcgsPerSecond: 1e9 }).chosen).toBeNull();
  });

  it('ignores trials that stopped early, and lower is better for errors', () => {
    const stopped = { ...trial('s', 0.99, 0.99), status: 'stopped-early' as const };
    expect(selectionCandidate(stopped)).toBeNull();
    const mae = (id: string, value: number) =>
      trial(id, 0, 0, {
        tasks: ['age'],
        validation: { age: { n: 5, ensemble: { mae: { value, lo: value, hi: value } } } },
      });
    const candidates = [mae('x', 9), mae('y', 3)].flatMap((t) => selectionCandidate(t) ?? []);
    expect(selectTrial(candidates, { task: 'age', metric: 'mae' }).chosen).toBe('y');
  });

  it('puts exactly the non-dominated trials on the Pareto front', () => {
    const list = [
      trial('best-acc', 0.9, 0, { peakTensorBytes: 300, ecgsPerSecond: 100 }),
      trial('cheap', 0.6, 0, { peakTensorBytes: 100, ecgsPerSecond: 100 }),
      trial('fast', 0.6, 0, { peakTensorBytes: 300, ecgsPerSecond: 900 }),
      trial('dominated', 0.5, 0, { peakTensorBytes: 300, ecgsPerSecond: 100 }),
    ];
    const front = paretoFront(
      list.flatMap((t) => selectionCandidate(t) ?? []),
      'report_label',
      'auroc',
    );
    expect(front.map((p) => p.trialId)).toEqual(['best-acc', 'cheap', 'fast']);
  });
});

describe('early stopping of hopeless trials', () => {
  it('stops trials worse than their loss group best by more than the margin, per group', () => {
    const hopeless = hopelessTrials(
      [
        { trialId: 'a', lossGroup: 'multi', valLoss: 10 },
        { trialId: 'b', lossGroup: 'multi', valLoss: 12 },
        { trialId: 'c', lossGroup: 'multi', valLoss: 13 },
        { trialId: 'd', lossGroup: 'single', valLoss: 1 },
        { trialId: 'e', lossGroup: 'single', valLoss: 1.5 },
        { trialId: 'f', lossGroup: 'single', valLoss: Number.NaN },
      ],
      0.25,
    );
    expect([...hopeless].sort()).toEqual(['c', 'e']);
  });
});
