import { describe, expect, it } from 'vitest';
import { activityLabel, activityLine, type RunningActivity } from '../src/watch.ts';

const NOW = 1_000_000_000_000;

function activity(activityType: string, progress?: Record<string, unknown>, startedSecondsAgo = 10) {
  return {
    activityId: '1',
    activityType,
    attempt: 1,
    startedAt: NOW - startedSecondsAgo * 1000,
    lastHeartbeatAt: NOW - 1000,
    progress,
  } satisfies RunningActivity;
}

describe('activity lines from heartbeat details', () => {
  it('name the stage and what it works on', () => {
    expect(activityLabel(activity('cacheFeatures', { expert: 'dlinear', seen: 1 }))).toBe('features dlinear');
    expect(activityLabel(activity('ingestShard', { shard: { index: 1, count: 2 }, done: 1 }))).toBe(
      'ingest shard 1/2',
    );
    expect(activityLabel(activity('ingestShard', { shard: { index: 0, count: 1 }, done: 1 }))).toBe('ingest');
  });

  it('show counts, rate and ETA for ingest, features, train and evaluate', () => {
    expect(activityLine(activity('ingestShard', { done: 40, total: 120 }), NOW)).toBe(
      'ingest 40/120 records (33%), 4.0 records/s, ETA 20s',
    );
    expect(
      activityLine(
        activity('cacheFeatures', { expert: 'timesnet', seen: 50, total: 100, computed: 30, skipped: 20 }),
        NOW,
      ),
    ).toBe('features timesnet 50/100 records (50%), 5.0 records/s, ETA 10s, 30 computed, 20 cached');
    expect(
      activityLine(
        activity('trainModel', { fit: 1, fits: 1, epoch: 5, maxEpochs: 20, trainLoss: 0.5, valLoss: 0.75 }),
        NOW,
      ),
    ).toBe('train 5/20 epochs (25%), 0.5 epochs/s, ETA 30s, train loss 0.5000, val loss 0.7500');
    expect(activityLine(activity('evaluateModel', { done: 700, total: 1400 }), NOW)).toBe(
      'evaluate 700/1400 replicates (50%), 70 replicates/s, ETA 10s',
    );
  });

  it('say how long a stage without counts has run, a retry, and a stage waiting for a worker', () => {
    expect(activityLine(activity('deriveLabels', undefined, 75), NOW)).toBe('labels: running for 1m15s');
    expect(activityLine({ ...activity('trainModel'), attempt: 2 }, NOW)).toBe(
      'train: running for 10s, attempt 2',
    );
    expect(activityLine({ ...activity('evaluateModel'), startedAt: undefined }, NOW)).toBe(
      'evaluate: waiting for a worker',
    );
  });
});
