import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import {
  forward,
  initialWeights,
  type ModelShape,
  mergeLora,
  parameterCounts,
  trainableNames,
  type Weights,
} from '../src/train/model.ts';

const shape: ModelShape = {
  tasks: ['rr_interval', 'age'],
  experts: [
    { name: 'a', dim: 6 },
    { name: 'b', dim: 4 },
  ],
  gateDim: 10,
  hiddenSize: 8,
  lora: { rank: 2, alpha: 8, dropout: 0.5 },
  topK: 0,
  trainLastHeadLayer: true,
};

function inputs(rows: number) {
  return {
    experts: {
      a: tf.randomNormal([rows, 6], 0, 1, 'float32', 1) as tf.Tensor2D,
      b: tf.randomNormal([rows, 4], 0, 1, 'float32', 2) as tf.Tensor2D,
    },
    gate: tf.randomNormal([rows, 10], 0, 1, 'float32', 3) as tf.Tensor2D,
  };
}

/** LoRA B starts at zero; give it values so that merging has something to fold in. */
function withTrainedAdapters(weights: Weights): Weights {
  const out = { ...weights };
  for (const [name, tensor] of Object.entries(weights)) {
    if (name.endsWith('lora_b')) out[name] = tf.randomNormal(tensor.shape, 0, 0.3, 'float32', name.length);
  }
  return out;
}

describe('LoRA layers', () => {
  beforeAll(async () => {
    await ensureTrainingBackend();
  });

  it('merged weights give the same outputs as base + scaled adapters', () => {
    const weights = withTrainedAdapters(initialWeights(shape, 42));
    const x = inputs(5);
    const unmerged = forward(shape, weights, x);
    const merged = forward(shape, mergeLora(shape, weights), x);
    const diff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number;
    expect(diff(unmerged.expertOutputs, merged.expertOutputs)).toBeLessThan(1e-4);
    expect(diff(unmerged.gateWeights, merged.gateWeights)).toBeLessThan(1e-5);
    expect(Object.keys(mergeLora(shape, weights)).some((name) => name.includes('lora'))).toBe(false);
  });

  it('adapters start as a no-op (B = 0): whatever A holds, a fresh model is its frozen base', () => {
    const weights = initialWeights(shape, 42);
    const x = inputs(3);
    const fresh = Array.from(forward(shape, weights, x).expertOutputs.dataSync());
    const otherA = Object.fromEntries(
      Object.entries(weights).map(([name, t]) => [name, name.endsWith('lora_a') ? tf.mul(t, 3) : t]),
    );
    expect(Array.from(forward(shape, otherA, x).expertOutputs.dataSync())).toEqual(fresh);
  });

  it('dropout masks follow the step seed', () => {
    const weights = withTrainedAdapters(initialWeights(shape, 42));
    const x = inputs(4);
    const run = (seed: number) =>
      Array.from(forward(shape, weights, x, { dropoutSeed: seed }).expertOutputs.dataSync());
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('seeded init is reproducible and differs across seeds', () => {
    const a = initialWeights(shape, 42)['gate.fc1.weight']?.dataSync();
    const b = initialWeights(shape, 42)['gate.fc1.weight']?.dataSync();
    const c = initialWeights(shape, 43)['gate.fc1.weight']?.dataSync();
    expect(Array.from(a ?? [])).toEqual(Array.from(b ?? []));
    expect(Array.from(a ?? [])).not.toEqual(Array.from(c ?? []));
  });

  it('faithful mode freezes the last head layer; the trainable count matches the trainable tensors', () => {
    const faithful = { ...shape, trainLastHeadLayer: false };
    expect(trainableNames(faithful).some((name) => name.startsWith('head.fc3'))).toBe(false);
    expect(trainableNames(shape)).toContain('head.fc3.weight');
    const weights = initialWeights(shape, 1);
    for (const variant of [shape, faithful]) {
      const size = trainableNames(variant).reduce((sum, name) => sum + (weights[name] as tf.Tensor).size, 0);
      expect(parameterCounts(variant).trainable).toBe(size);
    }
    const all = Object.values(weights).reduce((sum, tensor) => sum + tensor.size, 0);
    expect(parameterCounts(shape).total).toBe(all);
  });

  it('top-k keeps exactly k experts per sample, and weights still sum to 1', () => {
    const three: ModelShape = { ...shape, experts: [...shape.experts, { name: 'c', dim: 3 }], topK: 2 };
    const x = inputs(6);
    const weights = initialWeights(three, 5);
    const gate = forward(three, weights, {
      ...x,
      experts: { ...x.experts, c: tf.randomNormal([6, 3], 0, 1, 'float32', 4) as tf.Tensor2D },
    }).gateWeights.arraySync();
    for (const task of gate) {
      for (const row of task) {
        expect(row.filter((w) => w > 1e-6)).toHaveLength(2);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    }
  });
});
