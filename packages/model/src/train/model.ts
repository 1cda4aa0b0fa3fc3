import * as tf from '@tensorflow/tfjs-core';
import type { TaskKey } from '../evaluation-types.ts';
import type { LoraSettings } from './config.ts';
import { deriveSeed } from './prng.ts';
import { TASK_SPECS } from './tasks.ts';

export interface ModelShape {
  tasks: TaskKey[];
  /** Expert names and embedding widths, in the fixed order of every stacked tensor. */
  experts: Array<{ name: string; dim: number }>;
  gateDim: number;
  hiddenSize: number;
  lora: LoraSettings;
  topK: number;
  trainLastHeadLayer: boolean;
  /** Gate hidden width and layer count; absent in checkpoints of the two-layer, `hiddenSize`-wide gate. */
  gateWidth?: number;
  gateDepth?: number;
}

/** The gate's hidden width and the names of its hidden layers between fc1 and fc2 (none by default). */
export function gateLayout(shape: ModelShape): { width: number; hidden: string[] } {
  const depth = shape.gateDepth ?? 2;
  return {
    width: shape.gateWidth ?? shape.hiddenSize,
    hidden: Array.from({ length: depth - 2 }, (_, i) => `gate.hidden${i + 1}`),
  };
}

/** Mean and standard deviation a regression head's output is expressed in (identity when not scaled). */
export type TargetScale = Partial<Record<TaskKey, { mean: number; std: number }>>;

/** Forward outputs for a batch of B rows (E experts, T tasks, O = widest head output). */
export interface ForwardOutputs {
  /** [E, T, B, O] raw head outputs (regression value in the scaled space, or class logits). */
  expertOutputs: tf.Tensor4D;
  /** [T, B, E] gate weights after the softmax (rows sum to 1). */
  gateWeights: tf.Tensor3D;
}

/**
 * Parameters by name. Layout (why shared and stacked): a frozen base layer is a fixed random matrix,
 * drawn as the reference draws each head's (U(+-1/sqrt(fan_in))), so one draw can serve several heads,
 * which then differ by their own LoRA adapters, biases and last layers. The five task heads of one
 * expert read the same input, so their frozen first layer is one base and their LoRA factors are
 * concatenated (one matmul serves all tasks); all heads share one frozen second-layer base, so that
 * layer runs as a single matmul over every (expert, task) head at once; per-head pieces are stacked
 * on a leading axis g = expert * T + task. The tasks' gates share the frozen first layer too: they
 * all read the same leads.
 *
 *   head.<expert>.fc1.{weight [d,H], bias [H], lora_a [d, r*T], lora_b [T, r, H]}
 *   head.fc2.{weight [H,H], bias [E*T,1,H], lora_a [E*T,H,r], lora_b [E*T,r,H]}
 *   head.fc3.{weight [E*T,H,O], bias [E*T,1,O]}
 *   gate.fc1.{weight [G,W], bias [W], lora_a [G, r*T], lora_b [T, r, W]}
 *   gate.hidden<i>.{weight [T,W,W], bias [T,1,W], lora_a [T,W,r], lora_b [T,r,W]}  (depth - 2 of them)
 *   gate.fc2.{weight [T,W,E], bias [T,1,E], lora_a [T,W,r], lora_b [T,r,E]}
 * (W = the gate width, `hiddenSize` unless set.)
 *
 * Merged (inference) form: LoRA folded in, so fc1 weights become [d, T*H] with bias [T,1,H] and the
 * stacked layers carry no lora_* entries.
 */
export type Weights = Record<string, tf.Tensor>;

export function maxOutputs(tasks: readonly TaskKey[]): number {
  return Math.max(...tasks.map((task) => TASK_SPECS[task].outputs));
}

/** Names of the parameters the optimiser updates; all others stay at their seeded init. */
export function trainableNames(shape: ModelShape): string[] {
  const names = [
    ...shape.experts.flatMap(({ name }) => [`head.${name}.fc1.lora_a`, `head.${name}.fc1.lora_b`]),
    'head.fc2.lora_a',
    'head.fc2.lora_b',
    'gate.fc1.lora_a',
    'gate.fc1.lora_b',
    ...gateLayout(shape).hidden.flatMap((layer) => [`${layer}.lora_a`, `${layer}.lora_b`]),
    'gate.fc2.lora_a',
    'gate.fc2.lora_b',
  ];
  if (shape.trainLastHeadLayer) names.push('head.fc3.weight', 'head.fc3.bias');
  return names;
}

/** Seeded init as PyTorch does it: Linear U(+-1/sqrt(fan_in)), LoRA A likewise, LoRA B zeros. */
export function initialWeights(shape: ModelShape, seed: number): Weights {
  const T = shape.tasks.length;
  const E = shape.experts.length;
  const H = shape.hiddenSize;
  const r = shape.lora.rank;
  const O = maxOutputs(shape.tasks);
  const uniform = (name: string, dims: number[], fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    return tf.randomUniform(dims, -bound, bound, 'float32', deriveSeed(seed, name));
  };
  const weights: Weights = {};
  const put = (name: string, dims: number[], fanIn: number) => {
    weights[name] = uniform(name, dims, fanIn);
  };
  for (const { name, dim } of shape.experts) {
    put(`head.${name}.fc1.weight`, [dim, H], dim);
    put(`head.${name}.fc1.bias`, [H], dim);
    put(`head.${name}.fc1.lora_a`, [dim, r * T], dim);
    weights[`head.${name}.fc1.lora_b`] = tf.zeros([T, r, H]);
  }
  put('head.fc2.weight', [H, H], H);
  put('head.fc2.bias', [E * T, 1, H], H);
  put('head.fc2.lora_a', [E * T, H, r], H);
  weights['head.fc2.lora_b'] = tf.zeros([E * T, r, H]);
  put('head.fc3.weight', [E * T, H, O], H);
  put('head.fc3.bias', [E * T, 1, O], H);
  const gate = gateLayout(shape);
  const W = gate.width;
  put('gate.fc1.weight', [shape.gateDim, W], shape.gateDim);
  put('gate.fc1.bias', [W], shape.gateDim);
  put('gate.fc1.lora_a', [shape.gateDim, r * T], shape.gateDim);
  weights['gate.fc1.lora_b'] = tf.zeros([T, r, W]);
  for (const layer of gate.hidden) {
    put(`${layer}.weight`, [T, W, W], W);
    put(`${layer}.bias`, [T, 1, W], W);
    put(`${layer}.lora_a`, [T, W, r], W);
    weights[`${layer}.lora_b`] = tf.zeros([T, r, W]);
  }
  put('gate.fc2.weight', [T, W, E], W);
  put('gate.fc2.bias', [T, 1, E], W);
  put('gate.fc2.lora_a', [T, W, r], W);
  weights['gate.fc2.lora_b'] = tf.zeros([T, r, E]);
  return weights;
}

/** Parameter counts of the heads and gates (padding of narrower task outputs excluded). */
export function parameterCounts(shape: ModelShape): { trainable: number; total: number } {
  const T = shape.tasks.length;
  const E = shape.experts.length;
  const H = shape.hiddenSize;
  const r = shape.lora.rank;
  const G = shape.gateDim;
  const gate = gateLayout(shape);
  const W = gate.width;
  const hidden = gate.hidden.length;
  const outputs = shape.tasks.reduce((sum, task) => sum + TASK_SPECS[task].outputs, 0);
  const dims = shape.experts.reduce((sum, { dim }) => sum + dim, 0);
  const loraFc1 = dims * r * T + E * T * r * H;
  const loraFc2 = E * T * (H * r + r * H);
  const loraGate = G * r * T + T * r * W + hidden * T * 2 * W * r + T * (W * r + r * E);
  const fc3 = E * (H + 1) * outputs;
  const lora = loraFc1 + loraFc2 + loraGate;
  const frozenBases =
    dims * H + E * H + H * H + E * T * H + G * W + W + hidden * T * (W * W + W) + T * (W * E + E);
  return {
    trainable: lora + (shape.trainLastHeadLayer ? fc3 : 0),
    total: frozenBases + fc3 + lora,
  };
}

interface ForwardOptions {
  /** Seed of this step's LoRA dropout masks; absent = inference (no dropout). */
  dropoutSeed?: number;
}

export interface ForwardInputs {
  experts: Record<string, tf.Tensor2D>;
  gate: tf.Tensor2D;
}

/**
 * Runs heads and gates. `inputs.experts[name]` is [B, d]; `inputs.gate` is [B, G]. Works on both the
 * LoRA (training) and the merged (inference) weights.
 */
export function forward(
  shape: ModelShape,
  weights: Weights,
  inputs: ForwardInputs,
  options: ForwardOptions = {},
): ForwardOutputs {
  const T = shape.tasks.length;
  const E = shape.experts.length;
  const scale = shape.lora.alpha / shape.lora.rank;
  /**
   * Dropout on a LoRA input; `layer` numbers the adapters in the order experts' fc1, head fc2, gate
   * fc1, gate fc2. (Training draws its masks itself, see shard-trainer.ts.)
   */
  const dropout = (x: tf.Tensor, layer: number): tf.Tensor => {
    if (options.dropoutSeed === undefined || shape.lora.dropout === 0) return x;
    return tf.dropout(x, shape.lora.dropout, undefined, deriveSeed(options.dropoutSeed, layer));
  };
  const param = (name: string): tf.Tensor => {
    const value = weights[name];
    if (!value) throw new Error(`model weights lack ${name}`);
    return value;
  };

  /** Merged form of a layer whose T task variants read the same input x [B, d]; returns [T, B, H]. */
  const mergedSharedInputLayer = (x: tf.Tensor2D, prefix: string): tf.Tensor3D => {
    const weight = param(`${prefix}.weight`);
    const B = x.shape[0];
    const out = tf.matMul(x, weight as tf.Tensor2D);
    const H = weight.shape[1] as number;
    return tf.add(
      tf.transpose(tf.reshape(out, [B, T, H / T]), [1, 0, 2]),
      param(`${prefix}.bias`),
    ) as tf.Tensor3D;
  };

  /**
   * LoRA form of such a layer, split in its frozen part x W + b [B, H] and its adapter's down
   * projection per task [T, B, r]: the up projections of all such layers then run as one batched matmul.
   */
  const sharedInputParts = (x: tf.Tensor2D, prefix: string, layer: number) => {
    const B = x.shape[0];
    const loraA = param(`${prefix}.lora_a`) as tf.Tensor2D;
    const base = tf.add(tf.matMul(x, param(`${prefix}.weight`) as tf.Tensor2D), param(`${prefix}.bias`));
    const down = tf.matMul(dropout(x, layer) as tf.Tensor2D, loraA);
    const perTask = tf.transpose(tf.reshape(down, [B, T, shape.lora.rank]), [1, 0, 2]) as tf.Tensor3D;
    return { base: base as tf.Tensor2D, perTask, loraB: param(`${prefix}.lora_b`) as tf.Tensor3D };
  };

  /**
   * A stack of layers over a leading axis: h [G, B, k] -> [G, B, n]. A rank-2 weight is a frozen
   * base shared by the stack (one plain matmul); a rank-3 weight holds one matrix per member.
   */
  const stackedLayer = (h: tf.Tensor3D, prefix: string, layer?: number): tf.Tensor3D => {
    const weight = param(`${prefix}.weight`);
    const [G, B, k] = h.shape;
    let out: tf.Tensor;
    if (weight.rank === 2) {
      const n = weight.shape[1] as number;
      out = tf.reshape(tf.matMul(tf.reshape(h, [G * B, k]) as tf.Tensor2D, weight as tf.Tensor2D), [G, B, n]);
    } else {
      out = tf.matMul(h, weight as tf.Tensor3D);
    }
    out = tf.add(out, param(`${prefix}.bias`));
    const loraA = weights[`${prefix}.lora_a`];
    if (loraA === undefined) return out as tf.Tensor3D;
    if (layer === undefined) throw new Error(`${prefix} has an adapter but no dropout layer number`);
    const down = tf.matMul(dropout(h, layer) as tf.Tensor3D, loraA as tf.Tensor3D);
    return tf.add(
      out,
      tf.mul(tf.matMul(down, param(`${prefix}.lora_b`) as tf.Tensor3D), scale),
    ) as tf.Tensor3D;
  };

  const expertInputs = shape.experts.map(({ name }) => {
    const x = inputs.experts[name];
    if (!x) throw new Error(`no input for expert ${name}`);
    return x;
  });
  let h1: tf.Tensor3D;
  let g1: tf.Tensor3D;
  if (weights['gate.fc1.lora_a'] === undefined) {
    h1 = tf.concat(
      shape.experts.map(({ name }, e) =>
        tf.relu(mergedSharedInputLayer(expertInputs[e] as tf.Tensor2D, `head.${name}.fc1`)),
      ),
      0,
    ) as tf.Tensor3D;
    g1 = tf.relu(mergedSharedInputLayer(inputs.gate, 'gate.fc1')) as tf.Tensor3D;
  } else {
    const gateParts = sharedInputParts(inputs.gate, 'gate.fc1', E + 2);
    // The gate's first layer joins the experts' batched up projection only when it is as wide as theirs.
    const gateBatched = gateLayout(shape).width === shape.hiddenSize;
    const parts = [
      ...shape.experts.map(({ name }, e) =>
        sharedInputParts(expertInputs[e] as tf.Tensor2D, `head.${name}.fc1`, e + 1),
      ),
      ...(gateBatched ? [gateParts] : []),
    ];
    const [B, H] = (parts[0] as { base: tf.Tensor2D }).base.shape;
    // One batched matmul for the up projections of every expert's and the gate's first layer.
    const up = tf.matMul(
      tf.concat(
        parts.map((part) => part.perTask),
        0,
      ),
      tf.concat(
        parts.map((part) => part.loraB),
        0,
      ),
    );
    const P = parts.length;
    const bases = tf.reshape(tf.stack(parts.map((part) => part.base)), [P, 1, B, H]);
    const first = tf.relu(tf.add(tf.reshape(tf.mul(up, scale), [P, T, B, H]), bases));
    h1 = tf.reshape(tf.slice(first, [0, 0, 0, 0], [E, T, B, H]), [E * T, B, H]) as tf.Tensor3D;
    g1 = gateBatched
      ? (tf.reshape(tf.slice(first, [E, 0, 0, 0], [1, T, B, H]), [T, B, H]) as tf.Tensor3D)
      : (tf.relu(
          tf.add(tf.mul(tf.matMul(gateParts.perTask, gateParts.loraB), scale), gateParts.base),
        ) as tf.Tensor3D);
  }
  const firstLayerDropouts = E + 1;
  const h2 = tf.relu(stackedLayer(h1, 'head.fc2', firstLayerDropouts + 1)) as tf.Tensor3D;
  const out = stackedLayer(h2, 'head.fc3');
  const B = out.shape[1];
  const expertOutputs = tf.reshape(out, [E, T, B, out.shape[2]]) as tf.Tensor4D;

  // Hidden gate layers (sweeps) take dropout numbers after every default layer, so the default masks stay.
  let g = g1;
  gateLayout(shape).hidden.forEach((layer, i) => {
    g = tf.relu(stackedLayer(g, layer, firstLayerDropouts + 3 + i)) as tf.Tensor3D;
  });
  let logits = stackedLayer(g, 'gate.fc2', firstLayerDropouts + 2);
  if (shape.topK > 0 && shape.topK < E) logits = tf.add(logits, topKMask(logits, shape.topK));
  const gateWeights = tf.softmax(logits) as tf.Tensor3D;
  return { expertOutputs, gateWeights };
}

/**
 * Additive mask (0 for the k largest logits of each row, -1e9 elsewhere), computed on plain values
 * so that no gradient flows through the selection itself.
 */
export function topKMask(logits: tf.Tensor3D, k: number): tf.Tensor3D {
  const values = logits.dataSync();
  const E = logits.shape[2];
  const mask = new Float32Array(values.length);
  for (let row = 0; row < values.length / E; row++) {
    const slice = Array.from(values.subarray(row * E, (row + 1) * E));
    const threshold = [...slice].sort((a, b) => b - a)[k - 1] as number;
    let kept = 0;
    slice.forEach((value, e) => {
      if (value >= threshold && kept < k) kept += 1;
      else mask[row * E + e] = -1e9;
    });
  }
  return tf.tensor3d(mask, logits.shape);
}

/** Per-task predictions from forward outputs: the gate-weighted combination and each expert's own. */
export interface TaskOutputs {
  /** Regression: [B] ensemble value and [E, B] per expert (scaled space). */
  value?: { ensemble: tf.Tensor1D; experts: tf.Tensor2D };
  /**
   * Classification: [B, C] ensemble probabilities and [E, B, C] per expert. The ensemble mixes the
   * experts' probabilities (a proper mixture of experts: the result is a distribution and the gate
   * weights read as each expert's share of it), not their logits.
   */
  probabilities?: { ensemble: tf.Tensor2D; experts: tf.Tensor3D };
}

export function taskOutputs(shape: ModelShape, outputs: ForwardOutputs, taskIndex: number): TaskOutputs {
  const task = shape.tasks[taskIndex] as TaskKey;
  const spec = TASK_SPECS[task];
  const [E, , B] = outputs.expertOutputs.shape;
  const weights = tf.reshape(tf.slice(outputs.gateWeights, [taskIndex, 0, 0], [1, B, E]), [
    B,
    E,
  ]) as tf.Tensor2D;
  const own = tf.reshape(tf.slice(outputs.expertOutputs, [0, taskIndex, 0, 0], [E, 1, B, spec.outputs]), [
    E,
    B,
    spec.outputs,
  ]) as tf.Tensor3D;
  if (spec.kind === 'regression') {
    const experts = tf.reshape(own, [E, B]) as tf.Tensor2D;
    const ensemble = tf.sum(tf.mul(tf.transpose(experts), weights), 1) as tf.Tensor1D;
    return { value: { ensemble, experts } };
  }
  const experts = tf.softmax(own) as tf.Tensor3D;
  const mixed = tf.sum(tf.mul(tf.transpose(experts, [1, 0, 2]), tf.expandDims(weights, 2)), 1);
  return { probabilities: { ensemble: mixed as tf.Tensor2D, experts } };
}

/** Folds each LoRA pair into its base weight: W' = W + (alpha / r) A B, per task. */
export function mergeLora(shape: ModelShape, weights: Weights): Weights {
  const T = shape.tasks.length;
  const r = shape.lora.rank;
  const scale = shape.lora.alpha / r;
  return tf.tidy(() => {
    const merged: Weights = {};
    const mergeShared = (prefix: string) => {
      const base = weights[`${prefix}.weight`] as tf.Tensor2D;
      const [d, H] = base.shape;
      const loraA = tf.transpose(tf.reshape(weights[`${prefix}.lora_a`] as tf.Tensor, [d, T, r]), [1, 0, 2]);
      const delta = tf.mul(
        tf.matMul(loraA as tf.Tensor3D, weights[`${prefix}.lora_b`] as tf.Tensor3D),
        scale,
      );
      const perTask = tf.add(delta, tf.reshape(base, [1, d, H]));
      merged[`${prefix}.weight`] = tf.reshape(tf.transpose(perTask, [1, 0, 2]), [d, T * H]);
      merged[`${prefix}.bias`] = tf.tile(tf.reshape(weights[`${prefix}.bias`] as tf.Tensor, [1, 1, H]), [
        T,
        1,
        1,
      ]);
    };
    const mergeStacked = (prefix: string) => {
      const base = weights[`${prefix}.weight`] as tf.Tensor3D;
      const loraA = weights[`${prefix}.lora_a`];
      merged[`${prefix}.weight`] = loraA
        ? tf.add(
            base,
            tf.mul(tf.matMul(loraA as tf.Tensor3D, weights[`${prefix}.lora_b`] as tf.Tensor3D), scale),
          )
        : tf.clone(base);
      merged[`${prefix}.bias`] = tf.clone(weights[`${prefix}.bias`] as tf.Tensor);
    };
    for (const { name } of shape.experts) mergeShared(`head.${name}.fc1`);
    mergeShared('gate.fc1');
    mergeStacked('head.fc2');
    mergeStacked('head.fc3');
    for (const layer of gateLayout(shape).hidden) mergeStacked(layer);
    mergeStacked('gate.fc2');
    return merged;
  });
}
