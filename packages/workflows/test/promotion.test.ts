import type { EvaluationReport, TaskEvaluation } from '@enecg/model';
import { describe, expect, it } from 'vitest';
import { decidePromotion } from '../src/promotion.ts';

function task(kind: TaskEvaluation['kind'], metric: string, value: number): TaskEvaluation {
  return {
    kind,
    n: 100,
    ensemble: { [metric]: { value, lo: value, hi: value } },
    experts: {},
    baseline: {},
    versusBaseline: { metric, difference: { value: 0, lo: 0, hi: 0 }, verdict: 'inconclusive' },
    gateWeightMean: {},
    gateWeightsByGroup: {},
  };
}

function report(rrMae: number, sexF1: number): EvaluationReport {
  return {
    modelId: `m-${rrMae}-${sexF1}`,
    runId: 'r',
    split: 'test',
    experts: ['dlinear'],
    tasks: { rr_interval: task('regression', 'mae', rrMae), gender: task('binary', 'f1', sexF1) },
    trainingCurve: [],
    trainableParameters: 1,
    totalParameters: 1,
    randomInitExperts: [],
  };
}

describe('decidePromotion', () => {
  it('promotes the first model when there is no champion', () => {
    expect(decidePromotion(report(80, 0.6), undefined)).toMatchObject({
      promote: true,
      reason: 'no champion yet',
    });
  });

  it('promotes a challenger with lower MAE and higher F1', () => {
    const decision = decidePromotion(report(72, 0.66), report(80, 0.6));
    expect(decision.promote).toBe(true);
    expect(decision.meanRelativeImprovement).toBeCloseTo((8 / 80 + 0.06 / 0.6) / 2, 10);
  });

  it('keeps the champion when the challenger is worse on balance or only as good', () => {
    expect(decidePromotion(report(90, 0.61), report(80, 0.6)).promote).toBe(false);
    expect(decidePromotion(report(80, 0.6), report(80, 0.6)).promote).toBe(false);
  });

  it('requires the configured margin', () => {
    expect(decidePromotion(report(79, 0.6), report(80, 0.6), 0.05).promote).toBe(false);
  });
});
