import * as tf from '@tensorflow/tfjs-core';
import {
  attention,
  type Dense,
  dense,
  denseFromLinear,
  geluTanh,
  keyPaddingBias,
  layerByLayer,
  mergeHeads,
  rmsNorm,
  splitHeads,
} from '../layers/ops.ts';
import { resolveWeights, type WeightMap, type WeightSpec } from '../layers/weights.ts';

/** MOMENT-1 sizes (HF `AutonLab/MOMENT-1-*` config.json; T5 encoder from flan-t5). */
export interface MomentConfig {
  seqLen: number;
  patchLen: number;
  dModel: number;
  dFf: number;
  dKv: number;
  heads: number;
  layers: number;
  relativeBuckets: number;
  relativeMaxDistance: number;
  layerNormEps: number;
  revinEps: number;
}

const SHARED = {
  seqLen: 512,
  patchLen: 8,
  dKv: 64,
  relativeBuckets: 32,
  relativeMaxDistance: 128,
  layerNormEps: 1e-6,
  revinEps: 1e-5,
};

export const MOMENT_PRESETS: Record<string, MomentConfig> = {
  tiny: { ...SHARED, dModel: 32, dFf: 64, dKv: 8, heads: 4, layers: 2 },
  small: { ...SHARED, dModel: 512, dFf: 1024, heads: 6, layers: 8 },
  base: { ...SHARED, dModel: 768, dFf: 2048, heads: 12, layers: 12 },
  large: { ...SHARED, dModel: 1024, dFf: 2816, heads: 16, layers: 24 },
};

export function momentPatchCount(config: MomentConfig): number {
  return Math.floor(config.seqLen / config.patchLen);
}

/** The tensors the embedding path reads, by their names in the published checkpoint. */
export function momentWeightSpecs(config: MomentConfig): WeightSpec[] {
  const { dModel: d, dFf: ff, heads } = config;
  const inner = heads * config.dKv;
  const patches = momentPatchCount(config);
  const specs: WeightSpec[] = [
    { name: 'patch_embedding.value_embedding.weight', shape: [d, config.patchLen], init: 'normal' },
    { name: 'patch_embedding.mask_embedding', shape: [d], init: 'zeros' },
    {
      name: 'patch_embedding.position_embedding.pe',
      shape: [1, patches, d],
      init: () => sinusoidalTable(patches, d),
      minLeadingAxis: { axis: 1, min: patches },
    },
    {
      name: 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
      shape: [config.relativeBuckets, heads],
      init: 'normal',
    },
  ];
  for (let i = 0; i < config.layers; i++) {
    const block = `encoder.block.${i}.layer`;
    specs.push(
      { name: `${block}.0.layer_norm.weight`, shape: [d], init: 'ones' },
      { name: `${block}.0.SelfAttention.q.weight`, shape: [inner, d], init: 'normal' },
      { name: `${block}.0.SelfAttention.k.weight`, shape: [inner, d], init: 'normal' },
      { name: `${block}.0.SelfAttention.v.weight`, shape: [inner, d], init: 'normal' },
      { name: `${block}.0.SelfAttention.o.weight`, shape: [d, inner], init: 'normal' },
      { name: `${block}.1.layer_norm.weight`, shape: [d], init: 'ones' },
      { name: `${block}.1.DenseReluDense.wi_0.weight`, shape: [ff, d], init: 'normal' },
      { name: `${block}.1.DenseReluDense.wi_1.weight`, shape: [ff, d], init: 'normal' },
      { name: `${block}.1.DenseReluDense.wo.weight`, shape: [d, ff], init: 'normal' },
    );
  }
  specs.push({ name: 'encoder.final_layer_norm.weight', shape: [d], init: 'ones' });
  return specs;
}

/** T5's token embedding table (carried by T5Stack, never used on time series) and the pretraining head. */
export function isUnusedMomentTensor(name: string): boolean {
  return name === 'encoder.embed_tokens.weight' || name.startsWith('head.');
}

interface T5Block {
  attentionNorm: tf.Tensor1D;
  q: Dense;
  k: Dense;
  v: Dense;
  o: Dense;
  feedForwardNorm: tf.Tensor1D;
  wi0: Dense;
  wi1: Dense;
  wo: Dense;
}

export interface MomentParams {
  config: MomentConfig;
  valueEmbedding: Dense;
  maskEmbedding: tf.Tensor1D;
  positionTable: tf.Tensor2D;
  /** [heads, P, P]: the relative-position bias of block 0, shared by every layer. */
  positionBias: tf.Tensor3D;
  blocks: T5Block[];
  finalNorm: tf.Tensor1D;
}

/** Validates names and shapes (refusing a bad checkpoint by tensor name) and lays weights out for tfjs. */
export function prepareMoment(weights: WeightMap, config: MomentConfig, source: string): MomentParams {
  const w = resolveWeights(weights, momentWeightSpecs(config), source, isUnusedMomentTensor);
  const get = (name: string) => w.get(name)!;
  const patches = momentPatchCount(config);
  const blocks: T5Block[] = [];
  for (let i = 0; i < config.layers; i++) {
    const block = `encoder.block.${i}.layer`;
    blocks.push({
      attentionNorm: get(`${block}.0.layer_norm.weight`) as tf.Tensor1D,
      q: denseFromLinear(get(`${block}.0.SelfAttention.q.weight`)),
      k: denseFromLinear(get(`${block}.0.SelfAttention.k.weight`)),
      v: denseFromLinear(get(`${block}.0.SelfAttention.v.weight`)),
      o: denseFromLinear(get(`${block}.0.SelfAttention.o.weight`)),
      feedForwardNorm: get(`${block}.1.layer_norm.weight`) as tf.Tensor1D,
      wi0: denseFromLinear(get(`${block}.1.DenseReluDense.wi_0.weight`)),
      wi1: denseFromLinear(get(`${block}.1.DenseReluDense.wi_1.weight`)),
      wo: denseFromLinear(get(`${block}.1.DenseReluDense.wo.weight`)),
    });
  }
  const positionBias = tf.tidy(() => {
    const buckets = tf.tensor2d(relativePositionBuckets(patches, config), [patches, patches], 'int32');
    const table = get('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
    return tf.transpose(tf.gather(table, buckets), [2, 0, 1]) as tf.Tensor3D;
  });
  const positionTable = tf.tidy(
    () =>
      tf.reshape(tf.slice(get('patch_embedding.position_embedding.pe'), [0, 0, 0], [1, patches, -1]), [
        patches,
        config.dModel,
      ]) as tf.Tensor2D,
  );
  return {
    config,
    valueEmbedding: denseFromLinear(get('patch_embedding.value_embedding.weight')),
    maskEmbedding: get('patch_embedding.mask_embedding') as tf.Tensor1D,
    positionTable,
    positionBias,
    blocks,
    finalNorm: get('encoder.final_layer_norm.weight') as tf.Tensor1D,
  };
}

/** sin on even, cos on odd features, as MOMENT's PositionalEmbedding buffer. */
export function sinusoidalTable(length: number, width: number): tf.Tensor3D {
  const values = new Float32Array(length * width);
  for (let position = 0; position < length; position++) {
    for (let i = 0; i < width; i += 2) {
      const angle = position * Math.exp(i * -(Math.log(10000) / width));
      values[position * width + i] = Math.sin(angle);
      if (i + 1 < width) values[position * width + i + 1] = Math.cos(angle);
    }
  }
  return tf.tensor3d(values, [1, length, width]);
}

/**
 * T5's bidirectional relative-position buckets for key - query offsets, computed in float32 steps as
 * the reference does, so that offsets on a bucket boundary land in the same bucket.
 */
export function relativePositionBuckets(length: number, config: MomentConfig): Int32Array {
  const half = config.relativeBuckets / 2;
  const maxExact = half / 2;
  const f = Math.fround;
  const logRange = f(Math.log(config.relativeMaxDistance / maxExact));
  const buckets = new Int32Array(length * length);
  for (let query = 0; query < length; query++) {
    for (let key = 0; key < length; key++) {
      const offset = key - query;
      const distance = Math.abs(offset);
      let bucket = offset > 0 ? half : 0;
      if (distance < maxExact) {
        bucket += distance;
      } else {
        const scaled = f(f(f(Math.log(f(distance / maxExact))) / logRange) * (half - maxExact));
        bucket += Math.min(maxExact + Math.trunc(scaled), half - 1);
      }
      buckets[query * length + key] = bucket;
    }
  }
  return buckets;
}

/**
 * MOMENT's `embed(reduction='mean')`: RevIN with the input mask, patching, patch embedding (mask
 * embedding on padded patches, sinusoidal positions), channel-independent T5 encoding, mean over
 * channels, masked mean over patches.
 *
 * @param x [B, C, seqLen]
 * @param inputMask [B, seqLen], 1 observed, 0 padding (left padding for short inputs)
 * @returns [B, dModel]
 */
export function momentEmbed(params: MomentParams, x: tf.Tensor3D, inputMask: tf.Tensor2D): tf.Tensor2D {
  const { config } = params;
  const [batch] = x.shape;
  const patches = momentPatchCount(config);
  return tf.tidy(() => {
    const { encoded, patchMask } = momentEncode(params, x, inputMask);
    const channelMean = tf.mean(encoded, 1); // [B, P, d]
    const weights = tf.reshape(patchMask, [batch, patches, 1]);
    return tf.div(tf.sum(tf.mul(channelMean, weights), 1), tf.sum(weights, 1)) as tf.Tensor2D;
  });
}

/** What the encoder saw and made: the inputs its reconstruction is compared with, and its tokens. */
export interface MomentEncoding {
  /** RevIN-normalised input cut into patches [B, C, P, patchLen]: a reconstruction's target. */
  patched: tf.Tensor4D;
  /** Encoder output per channel and patch [B, C, P, dModel]. */
  encoded: tf.Tensor4D;
  /** [B, P]: 1 where every sample of the patch was observed. */
  patchMask: tf.Tensor2D;
}

/**
 * The encoder path shared by embedding and MOMENT's masked-patch pretraining. `hidden` [B, P] (1 =
 * hidden) replaces those patches' value embedding with the mask embedding while attention still
 * reaches them, as MOMENT's pretraining masks patches; absent, only padding is hidden.
 */
export function momentEncode(
  params: MomentParams,
  x: tf.Tensor3D,
  inputMask: tf.Tensor2D,
  hidden?: tf.Tensor2D,
): MomentEncoding {
  const { config } = params;
  const [batch, channels, length] = x.shape;
  const patches = momentPatchCount(config);
  const d = config.dModel;
  const normalized = revinNormalize(x, inputMask, config.revinEps);
  const patched = tf.reshape(normalized, [batch, channels, patches, config.patchLen]) as tf.Tensor4D;
  const patchMask = patchView(inputMask, config.patchLen, length); // [B, P]
  const shown = hidden === undefined ? patchMask : tf.mul(patchMask, tf.sub(1, hidden));
  const observed = tf.reshape(shown, [batch, 1, patches, 1]);
  const embedded = tf.add(
    tf.add(
      tf.mul(observed, dense(patched, params.valueEmbedding)),
      tf.mul(tf.sub(1, observed), params.maskEmbedding),
    ),
    params.positionTable,
  );
  const tokens = tf.reshape(embedded, [batch * channels, patches, d]);
  const keep = tf.reshape(tf.tile(tf.reshape(patchMask, [batch, 1, patches]), [1, channels, 1]), [
    batch * channels,
    patches,
  ]) as tf.Tensor2D;
  const encoded = tf.reshape(t5Encoder(params, tokens, keep), [batch, channels, patches, d]) as tf.Tensor4D;
  return { patched, encoded, patchMask };
}

/** Per-channel standardisation over observed samples only; population std plus eps (not inside the sqrt). */
function revinNormalize(x: tf.Tensor3D, inputMask: tf.Tensor2D, eps: number): tf.Tensor3D {
  const [batch, , length] = x.shape;
  const mask = tf.reshape(inputMask, [batch, 1, length]);
  const count = tf.sum(mask, -1, true);
  const mean = tf.div(tf.sum(tf.mul(x, mask), -1, true), count);
  const variance = tf.div(tf.sum(tf.mul(tf.square(tf.sub(x, mean)), mask), -1, true), count);
  const std = tf.add(tf.sqrt(variance), eps);
  return tf.div(tf.sub(x, mean), std) as tf.Tensor3D;
}

/** A patch counts as observed only when all of its samples are. */
function patchView(inputMask: tf.Tensor2D, patchLen: number, length: number): tf.Tensor2D {
  const [batch] = inputMask.shape;
  const perPatch = tf.sum(tf.reshape(inputMask, [batch, length / patchLen, patchLen]), -1);
  return tf.cast(tf.equal(perPatch, patchLen), 'float32') as tf.Tensor2D;
}

function t5Encoder(params: MomentParams, tokens: tf.Tensor, keep: tf.Tensor2D): tf.Tensor {
  const { config } = params;
  const bias = tf.add(tf.expandDims(params.positionBias, 0), keyPaddingBias(keep));
  const encoded = layerByLayer(tokens, params.blocks, (input, block) => {
    const normed = rmsNorm(input, block.attentionNorm, config.layerNormEps);
    const q = splitHeads(dense(normed, block.q), config.heads);
    const k = splitHeads(dense(normed, block.k), config.heads);
    const v = splitHeads(dense(normed, block.v), config.heads);
    // T5 folds the 1/sqrt(d_kv) scaling into its initialisation, so scores are not rescaled.
    const hidden = tf.add(input, dense(mergeHeads(attention(q, k, v, 1, bias)), block.o));
    const ffIn = rmsNorm(hidden, block.feedForwardNorm, config.layerNormEps);
    const gated = tf.mul(geluTanh(dense(ffIn, block.wi0)), dense(ffIn, block.wi1));
    return tf.add(hidden, dense(gated, block.wo));
  });
  return rmsNorm(encoded, params.finalNorm, config.layerNormEps);
}
