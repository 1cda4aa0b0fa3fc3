import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { resolveTrainConfig } from '../src/train/config.ts';
import { disposeWeights, fitModel } from '../src/train/fit.ts';
import {
  forward,
  initialWeights,
  type ModelShape,
  mergeLora,
  parameterCounts,
  trainableNames,
  type Weights,
} from '../src/train/model.ts';
import { syntheticTrainingSet } from './synthetic-training-set.ts';

const twoLayerGate: ModelShape = {
  tasks: ['rr_interval', 'age'],
  experts: [
    { name: 'a', dim: 6 },
    { name: 'b', dim: 4 },
  ],
  gateDim: 10,
  hiddenSize: 8,
  lora: { rank: 2, alpha: 8, dropout: 0 },
  topK: 0,
  trainLastHeadLayer: true,
};
const deepNarrowGate: ModelShape = { ...twoLayerGate, gateWidth: 5, gateDepth: 4 };

const inputs = () => ({
  experts: {
    a: tf.randomNormal([5, 6], 0, 1, 'float32', 1) as tf.Tensor2D,
    b: tf.randomNormal([5, 4], 0, 1, 'float32', 2) as tf.Tensor2D,
  },
  gate: tf.randomNormal([5, 10], 0, 1, 'float32', 3) as tf.Tensor2D,
});

describe('gate width and depth', () => {
  beforeAll(async () => {
    await ensureTrainingBackend();
  });

  it('adds hidden gate layers of the given width, counted and trained like the others', () => {
    const weights = initialWeights(deepNarrowGate, 1);
    expect(weights['gate.hidden1.weight']?.shape).toEqual([2, 5, 5]);
    expect(weights['gate.hidden2.lora_b']?.shape).toEqual([2, 2, 5]);
    expect(weights['gate.hidden3.weight']).toBeUndefined();
    expect(weights['gate.fc2.weight']?.shape).toEqual([2, 5, 2]);
    const trainable = trainableNames(deepNarrowGate).reduce(
      (sum, n) => sum + (weights[n] as tf.Tensor).size,
      0,
    );
    expect(parameterCounts(deepNarrowGate).trainable).toBe(trainable);
    const all = Object.values(weights).reduce((sum, tensor) => sum + tensor.size, 0);
    expect(parameterCounts(deepNarrowGate).total).toBe(all);
  });

  it('merged weights of a deep gate give the LoRA model outputs', () => {
    const weights: Weights = { ...initialWeights(deepNarrowGate, 2) };
    for (const [name, tensor] of Object.entries(weights)) {
      if (name.endsWith('lora_b'))
        weights[name] = tf.randomNormal(tensor.shape, 0, 0.3, 'float32', name.length);
    }
    const x = inputs();
    const unmerged = forward(deepNarrowGate, weights, x).gateWeights;
    const merged = forward(deepNarrowGate, mergeLora(deepNarrowGate, weights), x).gateWeights;
    expect(tf.max(tf.abs(tf.sub(unmerged, merged))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('leaves the default two-layer gate and its seeded weights as they were', () => {
    const explicit = initialWeights({ ...twoLayerGate, gateWidth: 8, gateDepth: 2 }, 3);
    const implicit = initialWeights(twoLayerGate, 3);
    expect(Object.keys(explicit).sort()).toEqual(Object.keys(implicit).sort());
    for (const name of Object.keys(implicit)) {
      expect(Array.from((explicit[name] as tf.Tensor).dataSync())).toEqual(
        Array.from((implicit[name] as tf.Tensor).dataSync()),
      );
    }
    expect(resolveTrainConfig({}).gate).not.toHaveProperty('depth');
    expect(() => resolveTrainConfig({ gate: { depth: 1 } })).toThrow(/gate\.depth/);
    expect(() => resolveTrainConfig({ gate: { width: 0 } })).toThrow(/gate\.width/);
  });

  it('trains a model whose gate is narrower and deeper than its heads', async () => {
    const set = syntheticTrainingSet({ studies: 40, seed: 4, gateDim: 16 });
    const rows = { train: [] as number[], val: [] as number[] };
    set.split.forEach((split, row) => {
      if (split !== 'test') rows[split].push(row);
    });
    const config = resolveTrainConfig({
      hiddenSize: 8,
      maxEpochs: 2,
      gate: { leads: ['II'], length: 16, width: 4, depth: 3 },
    });
    const fitted = await fitModel(set, config, rows);
    expect(fitted.shape).toMatchObject({ gateWidth: 4, gateDepth: 3 });
    expect(fitted.weights['gate.hidden1.lora_b']?.shape).toEqual([5, 8, 4]);
    expect(fitted.curve.every((epoch) => Number.isFinite(epoch.trainLoss))).toBe(true);
    disposeWeights(fitted.weights);
  });
});
