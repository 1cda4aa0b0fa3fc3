import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from './adamw.ts';
import type { TrainConfig } from './config.ts';
import type { TrainingSet } from './dataset.ts';
import { gateLayout, maxOutputs, type TargetScale, topKMask } from './model.ts';
import { createRng, deriveSeed } from './prng.ts';
import { type BatchInputs, type FullValues, fullName, type LossSums, type ShardLayout } from './shard.ts';
import { TASK_SPECS } from './tasks.ts';

interface Region {
  offset: number;
  shape: number[];
}

/** One gate layer after the first: its input, that input after dropout, and the adapter's down projection. */
interface GateLayerPass {
  input: tf.Tensor3D;
  dropped: tf.Tensor3D;
  down: tf.Tensor3D;
}

interface ForwardPass {
  /** [E*Ts, B, r] first-layer adapter down projections of the heads. */
  down1: tf.Tensor3D;
  h1: tf.Tensor3D;
  h1Dropped: tf.Tensor3D;
  down2: tf.Tensor3D;
  h2: tf.Tensor3D;
  /** Per shard task: [E, B, H] input of the last head layer and [E, B, O] its output. */
  lastInputs: tf.Tensor3D[];
  outputs: tf.Tensor3D[];
  /** [Ts, B, r]: the gate's first adapter down projection. */
  gateDown1: tf.Tensor3D;
  gateLayers: GateLayerPass[];
  /** [Ts, B, E] gate weights. */
  gateWeights: tf.Tensor3D;
}

/** Dropout masks of one step (values 0 or 1/(1-p)), per task so that the shard partition never shifts them. */
interface StepMasks {
  /** [E, Ts, B, H] on the head fc2 adapter input. */
  head: tf.Tensor3D;
  /** [Ts, B, W] per gate layer after the first. */
  gate: tf.Tensor3D[];
}

/** The wasm backend's internals that `readInto` uses (absent on other backends). */
interface WasmHeapAccess {
  wasm?: { HEAPU8: Uint8Array };
  dataIdMap?: { get(dataId: object): { memoryOffset: number | null } | undefined };
}

/**
 * Copies a float32 tensor's values into `target` at `offset`. On the wasm backend they are copied
 * straight from its heap: `dataSync` there first slices them into a freshly allocated buffer, which
 * costs more than the copy for the ~800k gradient values read back every step.
 */
function readInto(tensor: tf.Tensor, target: Float32Array, offset: number): void {
  const backend = tf.backend() as unknown as WasmHeapAccess;
  const memoryOffset = backend.wasm ? backend.dataIdMap?.get(tensor.dataId)?.memoryOffset : undefined;
  if (backend.wasm && typeof memoryOffset === 'number' && tensor.dtype === 'float32') {
    target.set(new Float32Array(backend.wasm.HEAPU8.buffer, memoryOffset, tensor.size), offset);
  } else {
    target.set(tensor.dataSync() as Float32Array, offset);
  }
}

/**
 * Per-head products out[q] = a[q] @ w[q] of stacked heads (a [G, M, K], w [G, K, N]; `transposeA`,
 * `transposeB` as in tf.matMul). Run as a depthwise convolution (the heads as channels, K as the filter
 * width), which the wasm backend hands to XNNPACK: 2-5x faster than its batched matMul, which
 * XNNPACK serves only for a weight shared by the whole batch.
 */
function headMatMul(a: tf.Tensor3D, w: tf.Tensor3D, transposeA = false, transposeB = false): tf.Tensor3D {
  const [G, ,] = a.shape;
  const M = transposeA ? a.shape[2] : a.shape[1];
  const K = transposeA ? a.shape[1] : a.shape[2];
  const N = transposeB ? w.shape[1] : w.shape[2];
  const x = tf.reshape(tf.transpose(a, transposeA ? [2, 1, 0] : [1, 2, 0]), [M, 1, K, G]) as tf.Tensor4D;
  const f = tf.reshape(tf.transpose(w, transposeB ? [2, 0, 1] : [1, 0, 2]), [1, K, G, N]) as tf.Tensor4D;
  const out = tf.depthwiseConv2d(x, f, 1, 'valid');
  return tf.transpose(tf.reshape(out, [M, G, N]), [1, 0, 2]) as tf.Tensor3D;
}

/**
 * Trains one shard's tasks: forward pass and a hand-written backward pass in a few dozen tfjs kernels
 * per step (no autodiff tape; frozen bases get no weight gradients), AdamW over one flat array of the
 * shard's trainable values. Heads are stacked expert-major, q = e * Ts + j for shard task j.
 */
export class ShardTrainer {
  private readonly params: Float32Array;
  private readonly grads: Float32Array;
  private readonly optimiser: AdamW;
  private readonly regions = new Map<string, Region>();
  private readonly frozen = new Map<string, tf.Tensor>();
  private tensors = new Map<string, tf.Tensor>();
  private best: Float32Array;
  private readonly scale: number;
  private readonly gateLayerNames: string[];
  private readonly targets: Array<{
    labels: Float64Array | undefined;
    mean: number;
    std: number;
    weight: number;
  }>;

  constructor(
    readonly layout: ShardLayout,
    full: FullValues,
    config: TrainConfig,
    targetScale: TargetScale,
    labels: TrainingSet['labels'],
  ) {
    const { shape } = layout;
    this.params = layout.read(full);
    this.best = Float32Array.from(this.params);
    this.grads = new Float32Array(layout.size);
    this.optimiser = new AdamW(
      { learningRate: config.learningRate, weightDecay: config.weightDecay },
      layout.size,
    );
    this.scale = shape.lora.alpha / shape.lora.rank;
    this.gateLayerNames = [...gateLayout(shape).hidden, 'gate.fc2'];
    const E = shape.experts.length;
    const Ts = layout.tasks.length;
    for (const segment of layout.trainable) {
      if (segment.tensor.includes('.fc1.lora_b#')) {
        // The experts' [Ts, r, H] segments are consecutive: one [E*Ts, r, H] stack.
        if (segment.tensor.endsWith('#0')) {
          this.regions.set('head.fc1.lora_b', {
            offset: segment.offset,
            shape: [E * Ts, ...segment.shape.slice(1)],
          });
        }
        continue;
      }
      this.regions.set(segment.tensor, { offset: segment.offset, shape: segment.shape });
    }
    for (const segment of layout.frozen) {
      const source = full[fullName(segment.tensor)] as Float32Array;
      const values = Float32Array.from(segment.positions, (position) => source[position] as number);
      this.frozen.set(segment.tensor, tf.tensor(values, segment.shape));
    }
    const H = shape.hiddenSize;
    const fc2 = tf.tensor2d(full['head.fc2.weight'] as Float32Array, [H, H]);
    this.frozen.set('head.fc2.weight', fc2);
    // wasm's transposed matmuls are slow: the backward pass reads a transposed copy.
    this.frozen.set('head.fc2.weight_t', tf.transpose(fc2));
    this.targets = layout.tasks.map((task) => ({
      labels: labels[task],
      mean: targetScale[task]?.mean ?? 0,
      std: targetScale[task]?.std ?? 1,
      weight: config.lossWeights[task] ?? 1,
    }));
    this.refresh();
  }

  /** One optimisation step on a batch; returns each shard task's weighted loss term. */
  step(inputs: BatchInputs, dropoutSeed: number): Float64Array {
    const terms = this.computeGradients(inputs, dropoutSeed);
    this.optimiser.update(this.params, this.grads);
    this.refresh();
    return terms;
  }

  /**
   * The weighted loss terms of a batch and, in `gradients` (laid out as the trainable values), the
   * gradient of their sum.
   */
  computeGradients(inputs: BatchInputs, dropoutSeed: number): Float64Array {
    const masks = this.masks(inputs.rows.length, dropoutSeed);
    const terms = new Float64Array(this.layout.tasks.length);
    tf.tidy(() => {
      const pass = this.forward(inputs, masks);
      const outputs = pass.outputs.map((output) => output.dataSync() as Float32Array);
      const gateWeights = pass.gateWeights.dataSync() as Float32Array;
      const loss = this.loss(inputs.rows, outputs, gateWeights, true);
      loss.sums.forEach((sum, j) => {
        terms[j] = sum * (loss.factors[j] as number);
      });
      this.backward(inputs, pass, masks, loss.outputGrads, loss.logitGrads);
    });
    if (masks) for (const mask of [masks.head, ...masks.gate]) mask.dispose();
    return terms;
  }

  get gradients(): Float32Array {
    return this.grads;
  }

  /** Loss sums without dropout (validation). */
  lossSums(inputs: BatchInputs): LossSums {
    let result: LossSums | undefined;
    tf.tidy(() => {
      const pass = this.forward(inputs, undefined);
      const outputs = pass.outputs.map((output) => output.dataSync() as Float32Array);
      result = this.loss(inputs.rows, outputs, pass.gateWeights.dataSync() as Float32Array, false);
    });
    return result as LossSums;
  }

  /** Keeps the current values as the best so far (early stopping). */
  markBest(): void {
    this.best.set(this.params);
  }

  get bestValues(): Float32Array {
    return this.best;
  }

  dispose(): void {
    for (const tensor of [...this.tensors.values(), ...this.frozen.values()]) tensor.dispose();
    this.tensors.clear();
    this.frozen.clear();
  }

  private refresh(): void {
    for (const tensor of this.tensors.values()) tensor.dispose();
    this.tensors = new Map();
    for (const [name, { offset, shape }] of this.regions) {
      const size = shape.reduce((a, b) => a * b, 1);
      this.tensors.set(name, tf.tensor(this.params.subarray(offset, offset + size), shape));
    }
  }

  private param<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const tensor = this.tensors.get(name) ?? this.frozen.get(name);
    if (!tensor) throw new Error(`shard lacks ${name}`);
    return tensor as tf.Tensor<R>;
  }

  private masks(B: number, dropoutSeed: number): StepMasks | undefined {
    const { shape, tasks } = this.layout;
    const rate = shape.lora.dropout;
    if (rate === 0) return undefined;
    const keep = 1 / (1 - rate);
    const E = shape.experts.length;
    const Ts = tasks.length;
    const H = shape.hiddenSize;
    const W = gateLayout(shape).width;
    const head = new Float32Array(E * Ts * B * H);
    tasks.forEach((task, j) => {
      const rng = createRng(deriveSeed(dropoutSeed, 'head.fc2', task));
      for (let e = 0; e < E; e++) {
        const start = (e * Ts + j) * B * H;
        for (let k = 0; k < B * H; k++) head[start + k] = rng() < rate ? 0 : keep;
      }
    });
    const gate = this.gateLayerNames.map((layer) => {
      const values = new Float32Array(Ts * B * W);
      tasks.forEach((task, j) => {
        const rng = createRng(deriveSeed(dropoutSeed, layer, task));
        for (let k = j * B * W; k < (j + 1) * B * W; k++) values[k] = rng() < rate ? 0 : keep;
      });
      return tf.tensor3d(values, [Ts, B, W]);
    });
    return { head: tf.tensor3d(head, [E * Ts, B, H]), gate };
  }

  private forward(inputs: BatchInputs, masks: StepMasks | undefined): ForwardPass {
    const { shape, tasks } = this.layout;
    const E = shape.experts.length;
    const Ts = tasks.length;
    const B = inputs.rows.length;
    const H = shape.hiddenSize;
    const r = shape.lora.rank;
    const s = this.scale;
    const downs = shape.experts.map(({ name }, e) =>
      tf.matMul(inputs.experts[e] as tf.Tensor2D, this.param<tf.Rank.R2>(`head.${name}.fc1.lora_a`)),
    );
    const down1 = tf.reshape(tf.transpose(tf.reshape(tf.stack(downs), [E, B, Ts, r]), [0, 2, 1, 3]), [
      E * Ts,
      B,
      r,
    ]) as tf.Tensor3D;
    const up1 = tf.reshape(headMatMul(down1, this.param<tf.Rank.R3>('head.fc1.lora_b')), [E, Ts, B, H]);
    const h1 = tf.reshape(tf.relu(tf.add(tf.mul(up1, s), tf.reshape(inputs.projected, [E, 1, B, H]))), [
      E * Ts,
      B,
      H,
    ]) as tf.Tensor3D;
    const h1Dropped = masks ? (tf.mul(h1, masks.head) as tf.Tensor3D) : h1;
    const base2 = tf.reshape(
      tf.matMul(tf.reshape(h1, [E * Ts * B, H]) as tf.Tensor2D, this.param<tf.Rank.R2>('head.fc2.weight')),
      [E * Ts, B, H],
    );
    const down2 = headMatMul(h1Dropped, this.param<tf.Rank.R3>('head.fc2.lora_a')) as tf.Tensor3D;
    const h2 = tf.relu(
      tf.add(
        tf.add(base2, this.param('head.fc2.bias')),
        tf.mul(headMatMul(down2, this.param<tf.Rank.R3>('head.fc2.lora_b')), s),
      ),
    ) as tf.Tensor3D;
    const byTask = tf.reshape(h2, [E, Ts, B, H]);
    const lastInputs = tasks.map(
      (_, j) => tf.reshape(tf.slice(byTask, [0, j, 0, 0], [E, 1, B, H]), [E, B, H]) as tf.Tensor3D,
    );
    const outputs = lastInputs.map(
      (input, j) =>
        tf.add(
          headMatMul(input, this.param<tf.Rank.R3>(`head.fc3.weight@${j}`)),
          this.param(`head.fc3.bias@${j}`),
        ) as tf.Tensor3D,
    );
    const gateDown1 = tf.transpose(
      tf.reshape(tf.matMul(inputs.gate, this.param<tf.Rank.R2>('gate.fc1.lora_a')), [B, Ts, r]),
      [1, 0, 2],
    ) as tf.Tensor3D;
    const gate1 = tf.relu(
      tf.add(
        tf.mul(headMatMul(gateDown1, this.param<tf.Rank.R3>('gate.fc1.lora_b')), s),
        inputs.gateProjected,
      ),
    ) as tf.Tensor3D;
    const gateLayers: GateLayerPass[] = [];
    let g = gate1;
    this.gateLayerNames.forEach((layer, l) => {
      const dropped = masks ? (tf.mul(g, masks.gate[l] as tf.Tensor3D) as tf.Tensor3D) : g;
      const down = headMatMul(dropped, this.param<tf.Rank.R3>(`${layer}.lora_a`)) as tf.Tensor3D;
      gateLayers.push({ input: g, dropped, down });
      const pre = tf.add(
        tf.add(headMatMul(g, this.param<tf.Rank.R3>(`${layer}.weight`)), this.param(`${layer}.bias`)),
        tf.mul(headMatMul(down, this.param<tf.Rank.R3>(`${layer}.lora_b`)), s),
      ) as tf.Tensor3D;
      g = layer === 'gate.fc2' ? pre : (tf.relu(pre) as tf.Tensor3D);
    });
    let logits = g;
    if (shape.topK > 0 && shape.topK < E)
      logits = tf.add(logits, topKMask(logits, shape.topK)) as tf.Tensor3D;
    const gateWeights = tf.softmax(logits) as tf.Tensor3D;
    return { down1, h1, h1Dropped, down2, h2, lastInputs, outputs, gateDown1, gateLayers, gateWeights };
  }

  /**
   * Per task: the summed loss over labelled rows (squared error of the gate-weighted value, or the
   * negative log of the gate-mixed probability of the true class), and with `withGrads` the loss
   * gradient (scaled by the task's weight / labelled rows) for the head outputs and the gate logits.
   */
  private loss(
    rows: readonly number[],
    outputs: Float32Array[],
    gateWeights: Float32Array,
    withGrads: boolean,
  ) {
    const { shape, tasks } = this.layout;
    const E = shape.experts.length;
    const B = rows.length;
    const Ts = tasks.length;
    const sums = new Float64Array(Ts);
    const counts = new Float64Array(Ts);
    const factors = new Float64Array(Ts);
    const outputGrads = outputs.map((output) => new Float32Array(withGrads ? output.length : 0));
    const logitGrads = new Float32Array(withGrads ? Ts * B * E : 0);
    const gateGrad = new Float64Array(E);
    const probabilities = new Float64Array(E * maxOutputs(tasks));
    tasks.forEach((task, j) => {
      const { labels, mean, std, weight } = this.targets[j] as (typeof this.targets)[number];
      for (const row of rows)
        if (labels && Number.isFinite(labels[row])) counts[j] = (counts[j] as number) + 1;
      const count = counts[j] as number;
      const factor = weight === 0 || count === 0 ? 0 : weight / count;
      factors[j] = factor;
      const O = TASK_SPECS[task].outputs;
      const output = outputs[j] as Float32Array;
      const outputGrad = outputGrads[j] as Float32Array;
      for (let b = 0; b < B; b++) {
        const label = labels ? (labels[rows[b] as number] as number) : Number.NaN;
        if (!Number.isFinite(label)) continue;
        const gw = (j * B + b) * E;
        gateGrad.fill(0);
        if (TASK_SPECS[task].kind === 'regression') {
          let ensemble = 0;
          for (let e = 0; e < E; e++)
            ensemble += (gateWeights[gw + e] as number) * (output[e * B + b] as number);
          const diff = ensemble - (label - mean) / std;
          sums[j] = (sums[j] as number) + diff * diff;
          if (!withGrads) continue;
          const dEnsemble = 2 * diff * factor;
          for (let e = 0; e < E; e++) {
            outputGrad[e * B + b] = dEnsemble * (gateWeights[gw + e] as number);
            gateGrad[e] = dEnsemble * (output[e * B + b] as number);
          }
        } else {
          let mixed = 0;
          for (let e = 0; e < E; e++) {
            const at = (e * B + b) * O;
            let max = Number.NEGATIVE_INFINITY;
            for (let k = 0; k < O; k++) max = Math.max(max, output[at + k] as number);
            let total = 0;
            for (let k = 0; k < O; k++) {
              const p = Math.exp((output[at + k] as number) - max);
              probabilities[e * O + k] = p;
              total += p;
            }
            for (let k = 0; k < O; k++)
              probabilities[e * O + k] = (probabilities[e * O + k] as number) / total;
            mixed += (gateWeights[gw + e] as number) * (probabilities[e * O + label] as number);
          }
          sums[j] = (sums[j] as number) - Math.log(mixed + 1e-7);
          if (!withGrads) continue;
          const dMixed = -factor / (mixed + 1e-7);
          for (let e = 0; e < E; e++) {
            const pTrue = probabilities[e * O + label] as number;
            gateGrad[e] = dMixed * pTrue;
            // d p_true / d logit_k = p_true (1[k = true] - p_k)
            const dTrue = dMixed * (gateWeights[gw + e] as number) * pTrue;
            const at = (e * B + b) * O;
            for (let k = 0; k < O; k++) {
              outputGrad[at + k] = dTrue * ((k === label ? 1 : 0) - (probabilities[e * O + k] as number));
            }
          }
        }
        // Softmax backward: d logit_e = w_e (d w_e - sum_k w_k d w_k).
        let dot = 0;
        for (let e = 0; e < E; e++) dot += (gateWeights[gw + e] as number) * (gateGrad[e] as number);
        for (let e = 0; e < E; e++) {
          logitGrads[gw + e] = (gateWeights[gw + e] as number) * ((gateGrad[e] as number) - dot);
        }
      }
    });
    return { sums, counts, factors, outputGrads, logitGrads };
  }

  private backward(
    inputs: BatchInputs,
    pass: ForwardPass,
    masks: StepMasks | undefined,
    outputGrads: Float32Array[],
    logitGrads: Float32Array,
  ): void {
    const { shape, tasks } = this.layout;
    const E = shape.experts.length;
    const Ts = tasks.length;
    const B = inputs.rows.length;
    const H = shape.hiddenSize;
    const r = shape.lora.rank;
    const s = this.scale;
    const write = (name: string, grad: tf.Tensor) => {
      readInto(grad, this.grads, (this.regions.get(name) as Region).offset);
    };
    const relu = (dy: tf.Tensor, y: tf.Tensor) => tf.mul(dy, tf.step(y));
    // Last head layer, per task.
    const lastGrads = tasks.map((task, j) => {
      const O = TASK_SPECS[task].outputs;
      const dOut = tf.tensor3d(outputGrads[j] as Float32Array, [E, B, O]);
      if (shape.trainLastHeadLayer) {
        write(`head.fc3.weight@${j}`, headMatMul(pass.lastInputs[j] as tf.Tensor3D, dOut, true, false));
        const biasGrad = new Float32Array(E * O);
        const values = outputGrads[j] as Float32Array;
        for (let e = 0; e < E; e++)
          for (let b = 0; b < B; b++)
            for (let k = 0; k < O; k++)
              biasGrad[e * O + k] = (biasGrad[e * O + k] as number) + (values[(e * B + b) * O + k] as number);
        this.grads.set(biasGrad, (this.regions.get(`head.fc3.bias@${j}`) as Region).offset);
      }
      return tf.reshape(headMatMul(dOut, this.param<tf.Rank.R3>(`head.fc3.weight@${j}`), false, true), [
        E,
        1,
        B,
        H,
      ]);
    });
    const dPre2 = relu(tf.reshape(tf.concat(lastGrads, 1), [E * Ts, B, H]), pass.h2) as tf.Tensor3D;
    // Head fc2: frozen base, adapter on the dropped input.
    write('head.fc2.lora_b', tf.mul(headMatMul(pass.down2, dPre2, true, false), s));
    const dDown2 = tf.mul(
      headMatMul(dPre2, this.param<tf.Rank.R3>('head.fc2.lora_b'), false, true),
      s,
    ) as tf.Tensor3D;
    write('head.fc2.lora_a', headMatMul(pass.h1Dropped, dDown2, true, false));
    let dAdapterInput: tf.Tensor = headMatMul(dDown2, this.param<tf.Rank.R3>('head.fc2.lora_a'), false, true);
    if (masks) dAdapterInput = tf.mul(dAdapterInput, masks.head);
    const dH1 = tf.add(
      tf.reshape(
        tf.matMul(
          tf.reshape(dPre2, [E * Ts * B, H]) as tf.Tensor2D,
          this.param<tf.Rank.R2>('head.fc2.weight_t'),
        ),
        [E * Ts, B, H],
      ),
      dAdapterInput,
    );
    const dPre1 = relu(dH1, pass.h1) as tf.Tensor3D;
    // Head fc1: only the adapter trains; its down projection's gradient is one plain matmul per expert.
    write('head.fc1.lora_b', tf.mul(headMatMul(pass.down1, dPre1, true, false), s));
    const dDown1 = tf.mul(headMatMul(dPre1, this.param<tf.Rank.R3>('head.fc1.lora_b'), false, true), s);
    const perExpert = tf.unstack(
      tf.reshape(tf.transpose(tf.reshape(dDown1, [E, Ts, B, r]), [0, 2, 1, 3]), [E, B, Ts * r]),
    );
    shape.experts.forEach(({ name }, e) => {
      const inputT = inputs.expertsT?.[e] ?? tf.transpose(inputs.experts[e] as tf.Tensor2D);
      write(`head.${name}.fc1.lora_a`, tf.matMul(inputT, perExpert[e] as tf.Tensor2D));
    });
    // Gate, from the logits back to its first layer.
    let dPre: tf.Tensor3D = tf.tensor3d(logitGrads, [Ts, B, E]);
    for (let l = this.gateLayerNames.length - 1; l >= 0; l--) {
      const layer = this.gateLayerNames[l] as string;
      const { input, dropped, down } = pass.gateLayers[l] as GateLayerPass;
      write(`${layer}.lora_b`, tf.mul(headMatMul(down, dPre, true, false), s));
      const dDown = tf.mul(
        headMatMul(dPre, this.param<tf.Rank.R3>(`${layer}.lora_b`), false, true),
        s,
      ) as tf.Tensor3D;
      write(`${layer}.lora_a`, headMatMul(dropped, dDown, true, false));
      let dAdapter: tf.Tensor = headMatMul(dDown, this.param<tf.Rank.R3>(`${layer}.lora_a`), false, true);
      if (masks) dAdapter = tf.mul(dAdapter, masks.gate[l] as tf.Tensor3D);
      const dInput = tf.add(
        headMatMul(dPre, this.param<tf.Rank.R3>(`${layer}.weight`), false, true),
        dAdapter,
      );
      dPre = relu(dInput, input) as tf.Tensor3D;
    }
    write('gate.fc1.lora_b', tf.mul(headMatMul(pass.gateDown1, dPre, true, false), s));
    const dGateDown = tf.mul(headMatMul(dPre, this.param<tf.Rank.R3>('gate.fc1.lora_b'), false, true), s);
    const gateInputT = inputs.gateT ?? tf.transpose(inputs.gate);
    write(
      'gate.fc1.lora_a',
      tf.matMul(gateInputT, tf.reshape(tf.transpose(dGateDown, [1, 0, 2]), [B, Ts * r]) as tf.Tensor2D),
    );
  }
}
