import { ConfigError } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { BatchRing } from '../src/train/batch-ring.ts';
import { resolveThreads, resolveTrainConfig } from '../src/train/config.ts';
import { rowsOfSplit } from '../src/train/dataset.ts';
import { disposeWeights, type FittedModel, fitModel, modelShapeFor } from '../src/train/fit.ts';
import { gatherBatchValues, partitionTasks } from '../src/train/shard.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

function weightValues(fitted: FittedModel): Record<string, number[]> {
  return Object.fromEntries(
    Object.entries(fitted.weights).map(([name, t]) => [name, Array.from(t.dataSync())]),
  );
}

describe('training on worker threads', () => {
  beforeAll(async () => {
    await ensureTrainingBackend();
  });

  it('gives bit-identical weights and curves on one thread and on two', async () => {
    const set = syntheticTrainingSet({ studies: 300, seed: 3 });
    const config = resolveTrainConfig({ hiddenSize: 16, gate: { length: 32 }, maxEpochs: 3, patience: 1 });
    const rows = { train: rowsOfSplit(set, 'train'), val: rowsOfSplit(set, 'val') };
    const one = await fitModel(set, config, rows, { threads: 1 });
    const two = await fitModel(set, config, rows, { threads: 2 });
    expect(two.curve).toEqual(one.curve);
    expect(two.bestEpoch).toBe(one.bestEpoch);
    expect(weightValues(two)).toEqual(weightValues(one));
    disposeWeights(one.weights);
    disposeWeights(two.weights);
  }, 60_000); // two worker threads each start tsx and tfjs: seconds on a busy machine

  it('passes gathered batches from one thread to the other in step order, and stops waiting when told', () => {
    const set = syntheticTrainingSet({ studies: 40, seed: 3 });
    const config = resolveTrainConfig({ hiddenSize: 16, gate: { length: 32 }, batchSize: 4 });
    const shape = modelShapeFor(set, config);
    const projections = [...shape.experts.map(() => 16), 16].map((dim) => ({
      dim,
      matrix: Float32Array.from({ length: 40 * dim }, (_, k) => k),
    }));
    const memory = BatchRing.allocate(shape, config.batchSize);
    const producer = new BatchRing(memory, shape, config.batchSize);
    const consumer = new BatchRing(memory, shape, config.batchSize);
    const batches = [
      [3, 1, 4, 1],
      [5, 9, 2, 6],
      [5, 3],
    ].map((rows, step) => gatherBatchValues(set, shape, projections, rows, step));
    batches.forEach((batch, step) => {
      producer.put(step, batch);
    });
    batches.forEach((batch, step) => {
      const read = consumer.take(step);
      expect(read.rows).toEqual(batch.rows);
      for (const key of ['inputs', 'transposes'] as const) {
        expect(read[key]?.map((a) => Array.from(a))).toEqual(batch[key]?.map((a) => Array.from(a)));
      }
      expect(Array.from(read.projected)).toEqual(Array.from(batch.projected));
      expect(Array.from(read.gateProjected)).toEqual(Array.from(batch.gateProjected));
      consumer.release(step);
    });
    BatchRing.abort(memory);
    expect(() => consumer.take(3)).toThrow(/stopped/);
  });

  it('splits the tasks into cost-balanced shards that depend on the task list only', () => {
    const tasks = resolveTrainConfig().tasks;
    const shards = partitionTasks(tasks, 2);
    expect(shards.flat().sort()).toEqual([0, 1, 2, 3, 4]);
    expect(shards.map((shard) => shard.length).sort()).toEqual([2, 3]);
    expect(partitionTasks(['age'], 2)).toEqual([[0]]);
  });

  it('refuses a bad thread count and uses no more threads than shards', () => {
    expect(() => resolveThreads(0, 2, 100, 2)).toThrow(ConfigError);
    expect(() => resolveThreads(1.5, 2, 100, 2)).toThrow(/threads/);
    expect(resolveThreads(8, 2, 100, 16)).toBe(2);
    expect(resolveThreads(undefined, 2, 100, 2)).toBe(1);
    expect(resolveThreads(undefined, 2, 30_000, 2)).toBe(2);
    expect(resolveThreads(undefined, 1, 30_000, 2)).toBe(1);
  });
});
