import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { resolveTrainConfig, type TrainConfig } from '../src/train/config.ts';
import { gatherBatch, type TrainingSet } from '../src/train/dataset.ts';
import { modelShapeFor, targetScaleFor } from '../src/train/fit.ts';
import { forward, initialWeights, type ModelShape, trainableNames } from '../src/train/model.ts';
import { createRng } from '../src/train/prng.ts';
import { batchInputs, disposeBatchInputs, type FullValues, ShardLayout } from '../src/train/shard.ts';
import { type FitContext, project } from '../src/train/shard-group.ts';
import { ShardTrainer } from '../src/train/shard-trainer.ts';
import { batchInputs as referenceInputs, targetsOf, taskLossSums } from './support/reference-loss.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

/** Seeded initial values with every LoRA B drawn non-zero, so that gradients reach every adapter's A. */
function startValues(shape: ModelShape): FullValues {
  const rng = createRng(5);
  const values: FullValues = {};
  for (const [name, tensor] of Object.entries(initialWeights(shape, 42))) {
    values[name] = Float32Array.from(tensor.dataSync() as Float32Array);
    if (name.endsWith('lora_b')) values[name] = values[name].map(() => (rng() - 0.5) * 0.4);
    tensor.dispose();
  }
  return values;
}

/** The same loss through the inference `forward` (LoRA form) and tfjs autodiff, as full-layout gradients. */
function autodiffGradients(
  set: TrainingSet,
  config: TrainConfig,
  shape: ModelShape,
  values: FullValues,
  context: FitContext,
  taskIndices: number[],
  rows: number[],
): FullValues {
  const shapes = Object.fromEntries(Object.entries(initialWeights(shape, 42)).map(([n, t]) => [n, t.shape]));
  const trainable = new Set(trainableNames(shape));
  const weights = Object.fromEntries(
    Object.entries(values).map(([name, v]) => [
      name,
      tf.variable(tf.tensor(v, shapes[name]), trainable.has(name)),
    ]),
  );
  const batch = gatherBatch(set, rows, shape.tasks);
  const targets = targetsOf(shape, context.targetScale, batch);
  const { grads } = tf.variableGrads(() => {
    const sums = taskLossSums(shape, forward(shape, weights, referenceInputs(batch, shape)), targets);
    let total: tf.Scalar = tf.scalar(0);
    for (const t of taskIndices) {
      const count = targets.counts[t] as number;
      if (count === 0) continue;
      const weight = config.lossWeights[shape.tasks[t] as (typeof shape.tasks)[number]] ?? 1;
      total = tf.add(total, tf.mul(sums[t] as tf.Scalar, weight / count));
    }
    return total;
  });
  const out: FullValues = {};
  for (const [name, variable] of Object.entries(weights)) {
    if (grads[variable.name]) out[name] = Float32Array.from(grads[variable.name]?.dataSync() as Float32Array);
    variable.dispose();
  }
  return out;
}

describe('hand-written backward pass', () => {
  beforeAll(async () => {
    await ensureTrainingBackend();
  });

  const cases: Array<[string, Parameters<typeof resolveTrainConfig>[0], number[]]> = [
    ['all tasks, default preset', {}, [0, 1, 2, 3, 4]],
    ['a shard of two tasks, faithful preset', { preset: 'faithful' }, [1, 4]],
    [
      'a deeper, narrower gate with top-k and loss weights',
      { gate: { depth: 3, width: 12, topK: 2 }, lossWeights: { age: 2, flag: 0 } },
      [0, 1, 3, 4],
    ],
  ];
  it.each(cases)('matches tfjs autodiff of the inference forward pass: %s', (_, input, taskIndices) => {
    const set = syntheticTrainingSet({ studies: 64, seed: 9 });
    const config = resolveTrainConfig({
      ...input,
      hiddenSize: 16,
      gate: { length: 32, ...input?.gate },
      lora: { dropout: 0 },
    });
    const shape = modelShapeFor(set, config);
    const values = startValues(shape);
    const context: FitContext = {
      set,
      shape,
      config,
      targetScale: targetScaleFor(
        set,
        config,
        set.studyIds.map((_, i) => i),
      ),
      initial: values,
      projections: [...shape.experts.map(() => 16), config.gate.width ?? 16].map((dim) => ({
        dim,
        matrix: new Float32Array(set.studyIds.length * dim),
      })),
    };
    project(
      context,
      context.projections.map((_, p) => p),
    );
    const layout = new ShardLayout(shape, taskIndices);
    const trainer = new ShardTrainer(layout, values, config, context.targetScale, set.labels);
    const rows = [3, 17, 40, 8, 51, 22, 9, 60, 33, 2, 45, 12, 29, 38, 5, 57];
    const inputs = batchInputs(set, shape, context.projections, rows, 1);
    trainer.computeGradients(inputs, 1);
    disposeBatchInputs(inputs);
    const expected = layout.read(autodiffGradients(set, config, shape, values, context, taskIndices, rows));
    const actual = trainer.gradients;
    const scale = Math.max(...expected.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    let worst = 0;
    expected.forEach((value, k) => {
      worst = Math.max(worst, Math.abs(value - (actual[k] as number)));
    });
    expect(worst / scale).toBeLessThan(1e-4);
    trainer.dispose();
  });
});
