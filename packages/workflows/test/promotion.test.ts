import type { EvaluationReport, TaskEvaluation } from '@enecg/model';
import { describe, expect, it } from 'vitest';
import { decidePromotion, PROMOTION_RULE } from '../src/promotion.ts';

const REPLICATES = 200;

/** A deterministic spread around `value`, as bootstrap replicates of a metric look. */
function replicatesAround(value: number, spread: number): number[] {
  return Array.from({ length: REPLICATES }, (_, r) => value + spread * Math.sin(r * 12.9898));
}

function task(kind: TaskEvaluation['kind'], value: number, spread: number, rows = 'rows-a'): TaskEvaluation {
  const metric = kind === 'regression' ? 'mae' : 'auroc';
  return {
    kind,
    n: 100,
    ensemble: { [metric]: { value, lo: value - spread, hi: value + spread } },
    experts: {},
    baseline: {},
    versusBaseline: { metric, difference: { value: 0, lo: 0, hi: 0 }, verdict: 'inconclusive' },
    paired: { rowsSha256: rows, metric, seed: 7, replicates: replicatesAround(value, spread) },
    gateWeightMean: {},
    gateWeightsByGroup: {},
  };
}

/**
 * An evaluation on the validation split of a model with RR-interval MAE `rrMae` and sex AUROC `sexAuroc`.
 * Both models' replicates move together (the same resampled patients), so a small shift is significant.
 */
function evaluation(
  modelId: string,
  rrMae: number,
  sexAuroc: number,
  options: { split?: 'val' | 'test'; splitSha256?: string; rows?: string } = {},
): EvaluationReport {
  return {
    modelId,
    runId: 'r',
    split: options.split ?? 'val',
    splitSha256: options.splitSha256 ?? 'split-a',
    experts: ['dlinear'],
    tasks: {
      rr_interval: task('regression', rrMae, 5, options.rows),
      gender: task('binary', sexAuroc, 0.05, options.rows),
    },
    trainingCurve: [],
    trainableParameters: 1,
    totalParameters: 1,
    randomInitExperts: [],
  };
}

describe(`decidePromotion (${PROMOTION_RULE})`, () => {
  it('promotes the first model when there is no champion', () => {
    expect(decidePromotion(evaluation('new', 80, 0.6), undefined)).toMatchObject({
      promote: true,
      verdict: 'first-champion',
      reason: 'no champion yet',
    });
  });

  it('promotes a challenger significantly better on one task and tied on the other', () => {
    const decision = decidePromotion(evaluation('new', 72, 0.6), evaluation('old', 80, 0.6));
    expect(decision).toMatchObject({ promote: true, verdict: 'promote', rule: PROMOTION_RULE });
    const rr = decision.perTask.find((t) => t.task === 'rr_interval')!;
    expect(rr).toMatchObject({ metric: 'mae', champion: 80, challenger: 72, verdict: 'better' });
    // Absolute, oriented so that positive is better: 8 ms less error on every replicate.
    expect(rr.improvement.value).toBeCloseTo(8, 10);
    expect(rr.improvement.lo).toBeCloseTo(8, 10);
    expect(decision.perTask.find((t) => t.task === 'gender')!.verdict).toBe('tie');
    expect(decision.reason).toBe('significantly better on rr_interval, worse on none');
  });

  it('keeps the champion when the challenger is worse on one task, however much better on another', () => {
    // The reported failure: MAE twice as bad and sex 0.9 -> 0.1 was promoted by a mean of relative changes.
    const decision = decidePromotion(evaluation('new', 40, 0.1), evaluation('old', 80, 0.9));
    expect(decision).toMatchObject({ promote: false, verdict: 'keep' });
    expect(decision.reason).toBe('significantly worse on gender');
    const halfAsBad = decidePromotion(evaluation('new', 160, 0.9), evaluation('old', 80, 0.9));
    expect(halfAsBad.perTask.find((t) => t.task === 'rr_interval')!.verdict).toBe('worse');
    expect(halfAsBad.promote).toBe(false);
  });

  it('keeps the champion on ties', () => {
    const decision = decidePromotion(evaluation('same', 80, 0.6), evaluation('same', 80, 0.6));
    expect(decision).toMatchObject({ promote: false, verdict: 'keep' });
    expect(decision.perTask.map((t) => t.verdict)).toEqual(['tie', 'tie']);
    expect(decision.reason).toBe('no task significantly better or worse (2 tied)');
  });

  it('a champion metric at 0 gives a finite absolute difference, not an exploding ratio', () => {
    const decision = decidePromotion(evaluation('new', 0.5, 0.6), evaluation('old', 0, 0.6));
    const rr = decision.perTask.find((t) => t.task === 'rr_interval')!;
    expect(rr.improvement.value).toBeCloseTo(-0.5, 10);
    expect(rr.verdict).toBe('worse');
    expect(decision.promote).toBe(false);
    const fromZero = decidePromotion(evaluation('new', 0, 0.6), evaluation('old', 0.5, 0.6));
    expect(fromZero.perTask.find((t) => t.task === 'rr_interval')!.improvement.value).toBeCloseTo(0.5, 10);
    expect(fromZero.promote).toBe(true);
  });

  it('an undefined metric (one class only) ties instead of deciding', () => {
    const challenger = evaluation('new', 72, 0.6);
    challenger.tasks.gender!.paired!.replicates = challenger.tasks.gender!.paired!.replicates.map(() => null);
    const decision = decidePromotion(challenger, evaluation('old', 80, 0.6));
    expect(decision.perTask.find((t) => t.task === 'gender')!.verdict).toBe('tie');
    expect(decision.promote).toBe(true);
  });

  it('refuses to compare evaluations on other splits, other rows or the test split', () => {
    expect(
      decidePromotion(evaluation('new', 72, 0.6), evaluation('old', 80, 0.6, { splitSha256: 'split-b' })),
    ).toMatchObject({ promote: false, verdict: 'not-comparable' });
    expect(
      decidePromotion(evaluation('new', 72, 0.6), evaluation('old', 80, 0.6, { rows: 'rows-b' })).reason,
    ).toBe('rr_interval: the models were evaluated on different rows');
    expect(
      decidePromotion(evaluation('new', 72, 0.6, { split: 'test' }), evaluation('old', 80, 0.6)).reason,
    ).toBe('the challenger was evaluated on test, promotion decides on val');
  });

  it('a stricter confidence needs a larger improvement', () => {
    // 1 ms better with a replicate spread that is not perfectly paired.
    const challenger = evaluation('new', 79, 0.6);
    challenger.tasks.rr_interval!.paired!.replicates = replicatesAround(79, 5).map(
      (value, r) => value + 1.2 * Math.cos(r * 3.1),
    );
    expect(decidePromotion(challenger, evaluation('old', 80, 0.6), 0.5).promote).toBe(true);
    expect(decidePromotion(challenger, evaluation('old', 80, 0.6), 0.99).promote).toBe(false);
  });
});
