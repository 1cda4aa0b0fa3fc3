import * as tf from '@tensorflow/tfjs-core';

/** A dense layer with its kernel stored input-major ([in, out]) so that forward is one matMul. */
export interface Dense {
  readonly kernel: tf.Tensor2D;
  readonly bias?: tf.Tensor1D;
}

/** From a torch `nn.Linear` weight [out, in] (and bias): transposed once at load time. */
export function denseFromLinear(weight: tf.Tensor, bias?: tf.Tensor): Dense {
  const kernel = tf.transpose(weight as tf.Tensor2D) as tf.Tensor2D;
  return bias ? { kernel, bias: bias as tf.Tensor1D } : { kernel };
}

/** From a GPT-2 `Conv1D` weight, already [in, out]. */
export function denseFromConv1D(weight: tf.Tensor, bias?: tf.Tensor): Dense {
  return bias
    ? { kernel: weight as tf.Tensor2D, bias: bias as tf.Tensor1D }
    : { kernel: weight as tf.Tensor2D };
}

export function dense(x: tf.Tensor, layer: Dense): tf.Tensor {
  const [inDim, outDim] = layer.kernel.shape;
  const leading = x.shape.slice(0, -1);
  const flat = tf.matMul(tf.reshape(x, [-1, inDim]), layer.kernel);
  const biased = layer.bias ? tf.add(flat, layer.bias) : flat;
  return tf.reshape(biased, [...leading, outDim]);
}

/**
 * Runs `block` over `layers` in turn with only one layer's intermediate tensors alive at a time. A
 * tf.tidy frees what it made only when it ends, so a deep stack in one tidy holds every layer's
 * activations at once: at the published sizes that was most of the experts' memory.
 */
export function layerByLayer<L, T extends tf.Tensor>(
  x: T,
  layers: readonly L[],
  block: (x: T, layer: L) => T,
): T {
  let hidden = x;
  for (const layer of layers) {
    const next = tf.tidy(() => block(hidden, layer));
    if (hidden !== x) hidden.dispose();
    hidden = next;
  }
  return hidden;
}

export interface Norm {
  readonly weight: tf.Tensor1D;
  readonly bias?: tf.Tensor1D;
}

/** LayerNorm over the last axis (biased variance, as torch). */
export function layerNorm(x: tf.Tensor, norm: Norm, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  const scaled = tf.mul(normalized, norm.weight);
  return norm.bias ? tf.add(scaled, norm.bias) : scaled;
}

/** T5's LayerNorm: root-mean-square scaling only, no mean subtraction and no bias. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
}

/** GELU with the tanh approximation (`gelu_new` in transformers). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** Exact GELU, x * Phi(x), as torch's default `nn.GELU()`. */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** [B, T, H*D] -> [B, H, T, D] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [batch, time, width] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [batch, time, heads, width / heads]), [0, 2, 1, 3]);
}

/** [B, H, T, D] -> [B, T, H*D] */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [batch, heads, time, depth] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [batch, time, heads * depth]);
}

/**
 * softmax(q k^T * scale + bias) v over heads, written with matMul so that it runs on every backend
 * (no einsum on wasm). `bias` broadcasts to [B, H, Tq, Tk].
 */
export function attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  scale: number,
  bias?: tf.Tensor,
): tf.Tensor4D {
  const raw = tf.matMul(q, k, false, true);
  const scaled = scale === 1 ? raw : tf.mul(raw, scale);
  const scores = bias ? tf.add(scaled, bias) : scaled;
  return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D;
}

/** Additive bias that blocks attention where `keep` is 0: [B, T] -> [B, 1, 1, T]. */
export function keyPaddingBias(keep: tf.Tensor2D): tf.Tensor4D {
  const [batch, time] = keep.shape;
  return tf.reshape(tf.mul(tf.sub(1, keep), BLOCKED), [batch, 1, 1, time]);
}

/** Additive causal bias [1, 1, T, T]: position i may attend to j <= i only. */
export function causalBias(time: number): tf.Tensor4D {
  const lower = tf.linalg.bandPart(tf.ones([time, time]), -1, 0);
  return tf.reshape(tf.mul(tf.sub(1, lower), BLOCKED), [1, 1, time, time]);
}

/** Large enough that exp() underflows to exactly 0 after softmax's max subtraction, small enough to stay finite. */
const BLOCKED = -1e9;

/**
 * PyTorch Conv1d weight [out, in/groups, k] -> per-group tfjs conv1d filters [k, in/groups, out/groups].
 */
export function conv1dFilters(weight: tf.Tensor, groups: number): tf.Tensor3D[] {
  const transposed = tf.transpose(weight as tf.Tensor3D, [2, 1, 0]);
  if (groups === 1) return [transposed as tf.Tensor3D];
  return tf.split(transposed, groups, 2) as tf.Tensor3D[];
}

/** Grouped 1-D convolution on channels-last input [B, T, C], valid padding. */
export function groupedConv1d(x: tf.Tensor3D, filters: readonly tf.Tensor3D[], stride: number): tf.Tensor3D {
  if (filters.length === 1) return tf.conv1d(x, filters[0]!, stride, 'valid');
  const inputs = tf.split(x, filters.length, 2);
  const outputs = inputs.map((input, group) =>
    tf.conv1d(input as tf.Tensor3D, filters[group]!, stride, 'valid'),
  );
  return tf.concat(outputs, 2);
}
