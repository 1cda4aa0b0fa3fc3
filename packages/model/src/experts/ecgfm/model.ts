import * as tf from '@tensorflow/tfjs-core';
import {
  attention,
  conv1dFilters,
  type Dense,
  dense,
  denseFromLinear,
  geluErf,
  groupedConv1d,
  layerByLayer,
  layerNorm,
  mergeHeads,
  type Norm,
  splitHeads,
} from '../layers/ops.ts';
import { resolveWeights, type WeightMap, type WeightSpec } from '../layers/weights.ts';

/** ECG-FM (fairseq-signals `ecg_transformer` / wav2vec 2.0, BERT-base encoder) sizes. */
export interface EcgfmConfig {
  inChannels: number;
  /** [dim, kernel, stride] per conv feature-extractor layer (`conv_feature_layers`). */
  convLayers: [number, number, number][];
  convBias: boolean;
  dModel: number;
  ffnDim: number;
  heads: number;
  layers: number;
  convPos: number;
  convPosGroups: number;
  segmentLength: number;
  /** Classifier labels of a fine-tuned checkpoint (`proj`, 17 for MIMIC-IV-ECG); 0 reads no head. */
  labels: number;
}

export const ECGFM_PRESETS: Record<string, EcgfmConfig> = {
  tiny: {
    inChannels: 12,
    convLayers: Array.from({ length: 4 }, () => [16, 2, 2] as [number, number, number]),
    convBias: false,
    dModel: 32,
    ffnDim: 64,
    heads: 4,
    layers: 2,
    convPos: 16,
    convPosGroups: 4,
    segmentLength: 2500,
    labels: 0,
  },
  full: {
    inChannels: 12,
    convLayers: Array.from({ length: 4 }, () => [256, 2, 2] as [number, number, number]),
    convBias: false,
    dModel: 768,
    ffnDim: 3072,
    heads: 12,
    layers: 12,
    convPos: 128,
    convPosGroups: 16,
    segmentLength: 2500,
    labels: 0,
  },
};

/** Frames after the conv feature extractor: floor((n - k) / s + 1) per layer. */
export function ecgfmFrameCount(config: EcgfmConfig, samples = config.segmentLength): number {
  return config.convLayers.reduce((n, [, k, s]) => Math.floor((n - k) / s + 1), samples);
}

/**
 * The pretrained wav2vec 2.0 checkpoint names the backbone at the top level; the fine-tuned classifier
 * checkpoint nests it under `encoder.`.
 */
export function ecgfmPrefix(weights: WeightMap): string {
  return weights.has('encoder.feature_extractor.conv_layers.0.0.weight') ? 'encoder.' : '';
}

export function ecgfmWeightSpecs(config: EcgfmConfig, prefix = ''): WeightSpec[] {
  const d = config.dModel;
  const p = prefix;
  const linear = (name: string, out: number, inDim: number): WeightSpec[] => [
    { name: `${p}${name}.weight`, shape: [out, inDim], init: 'normal' },
    { name: `${p}${name}.bias`, shape: [out], init: 'zeros' },
  ];
  const norm = (name: string, width: number): WeightSpec[] => [
    { name: `${p}${name}.weight`, shape: [width], init: 'ones' },
    { name: `${p}${name}.bias`, shape: [width], init: 'zeros' },
  ];
  const specs: WeightSpec[] = [];
  let inDim = config.inChannels;
  config.convLayers.forEach(([dim, kernel], i) => {
    specs.push({
      name: `${p}feature_extractor.conv_layers.${i}.0.weight`,
      shape: [dim, inDim, kernel],
      init: 'normal',
    });
    if (config.convBias)
      specs.push({ name: `${p}feature_extractor.conv_layers.${i}.0.bias`, shape: [dim], init: 'zeros' });
    inDim = dim;
  });
  const embed = inDim;
  const pos = 'conv_pos.pos_conv.0';
  specs.push(
    ...norm('feature_extractor.conv_layers.0.2', config.convLayers[0]![0]),
    ...norm('layer_norm', embed),
    ...(embed !== d ? linear('post_extract_proj', d, embed) : []),
    {
      name: `${p}${pos}.parametrizations.weight.original0`,
      shape: [1, 1, config.convPos],
      init: 'ones',
      aliases: [`${p}${pos}.weight_g`],
    },
    {
      name: `${p}${pos}.parametrizations.weight.original1`,
      shape: [d, d / config.convPosGroups, config.convPos],
      init: 'normal',
      aliases: [`${p}${pos}.weight_v`],
    },
    { name: `${p}${pos}.bias`, shape: [d], init: 'zeros' },
    ...norm('encoder.layer_norm', d),
  );
  for (let i = 0; i < config.layers; i++) {
    const layer = `encoder.layers.${i}`;
    specs.push(
      ...linear(`${layer}.self_attn.q_proj`, d, d),
      ...linear(`${layer}.self_attn.k_proj`, d, d),
      ...linear(`${layer}.self_attn.v_proj`, d, d),
      ...linear(`${layer}.self_attn.out_proj`, d, d),
      ...norm(`${layer}.self_attn_layer_norm`, d),
      ...linear(`${layer}.fc1`, config.ffnDim, d),
      ...linear(`${layer}.fc2`, d, config.ffnDim),
      ...norm(`${layer}.final_layer_norm`, d),
    );
  }
  if (config.labels > 0) {
    // The fine-tuned classifier's head sits beside the nested encoder, so it never carries the prefix.
    specs.push(
      { name: 'proj.weight', shape: [config.labels, d], init: 'normal' },
      { name: 'proj.bias', shape: [config.labels], init: 'zeros' },
    );
  }
  return specs;
}

/** Pretraining-only modules (quantizer, targets, mask embedding) and the classifier head, not on the embedding path. */
export function isUnusedEcgfmTensor(name: string): boolean {
  return /^(encoder\.)?(mask_emb|quantizer\.|project_q\.|final_proj\.|layer_norm_target)|^proj\./.test(name);
}

interface EncoderLayer {
  q: Dense;
  k: Dense;
  v: Dense;
  out: Dense;
  attentionNorm: Norm;
  fc1: Dense;
  fc2: Dense;
  finalNorm: Norm;
}

export interface EcgfmParams {
  config: EcgfmConfig;
  convFilters: tf.Tensor3D[];
  convBiases: (tf.Tensor1D | undefined)[];
  groupNorm: Norm;
  featureNorm: Norm;
  postExtractProj?: Dense;
  positionFilters: tf.Tensor3D[];
  positionBias: tf.Tensor1D;
  encoderNorm: Norm;
  layers: EncoderLayer[];
  classifier?: Dense;
}

export function prepareEcgfm(weights: WeightMap, config: EcgfmConfig, source: string): EcgfmParams {
  const prefix = ecgfmPrefix(weights);
  const w = resolveWeights(weights, ecgfmWeightSpecs(config, prefix), source, isUnusedEcgfmTensor);
  const get = (name: string) => w.get(`${prefix}${name}`)!;
  const linear = (name: string) => denseFromLinear(get(`${name}.weight`), get(`${name}.bias`));
  const norm = (name: string): Norm => ({
    weight: get(`${name}.weight`) as tf.Tensor1D,
    bias: get(`${name}.bias`) as tf.Tensor1D,
  });
  const pos = 'conv_pos.pos_conv.0';
  // weight_norm(dim=2): weight[:, :, k] = g[k] * v[:, :, k] / ||v[:, :, k]||.
  const positionWeight = tf.tidy(() => {
    const v = get(`${pos}.parametrizations.weight.original1`);
    const g = get(`${pos}.parametrizations.weight.original0`);
    return tf.mul(g, tf.div(v, tf.sqrt(tf.sum(tf.square(v), [0, 1], true))));
  });
  const positionFilters = tf.tidy(() => conv1dFilters(positionWeight, config.convPosGroups));
  positionWeight.dispose();
  const embed = config.convLayers[config.convLayers.length - 1]![0];
  const layers: EncoderLayer[] = [];
  for (let i = 0; i < config.layers; i++) {
    const layer = `encoder.layers.${i}`;
    layers.push({
      q: linear(`${layer}.self_attn.q_proj`),
      k: linear(`${layer}.self_attn.k_proj`),
      v: linear(`${layer}.self_attn.v_proj`),
      out: linear(`${layer}.self_attn.out_proj`),
      attentionNorm: norm(`${layer}.self_attn_layer_norm`),
      fc1: linear(`${layer}.fc1`),
      fc2: linear(`${layer}.fc2`),
      finalNorm: norm(`${layer}.final_layer_norm`),
    });
  }
  return {
    config,
    convFilters: config.convLayers.map(
      (_, i) => conv1dFilters(get(`feature_extractor.conv_layers.${i}.0.weight`), 1)[0]!,
    ),
    convBiases: config.convLayers.map((_, i) =>
      config.convBias ? (get(`feature_extractor.conv_layers.${i}.0.bias`) as tf.Tensor1D) : undefined,
    ),
    groupNorm: norm('feature_extractor.conv_layers.0.2'),
    featureNorm: norm('layer_norm'),
    ...(embed !== config.dModel ? { postExtractProj: linear('post_extract_proj') } : {}),
    positionFilters,
    positionBias: get(`${pos}.bias`) as tf.Tensor1D,
    encoderNorm: norm('encoder.layer_norm'),
    layers,
    ...(config.labels > 0 ? { classifier: denseFromLinear(w.get('proj.weight')!, w.get('proj.bias')!) } : {}),
  };
}

/**
 * ECG-FM's encoder output pooled per segment (`ecgfmEncode`), with the reference's pooling quirk
 * `sum / count(x != 0)` per feature.
 *
 * @param segments [B, segmentLength, inChannels], leads in ECG-FM's order, channels last
 * @returns [B, dModel]
 */
export function ecgfmEmbed(params: EcgfmParams, segments: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const h = ecgfmEncode(params, segments);
    // The reference divides by the number of non-zero entries per feature, not by the frame count.
    const nonZero = tf.sum(tf.cast(tf.notEqual(h, 0), 'float32'), 1);
    return tf.div(tf.sum(h, 1), nonZero) as tf.Tensor2D;
  });
}

/** Frames the pretraining hides, and what it puts in their place (wav2vec 2.0's `mask_emb`). */
export interface EcgfmFrameMask {
  /** [B, frames]: 1 = hidden. */
  hidden: tf.Tensor2D;
  /** [dModel] */
  embedding: tf.Tensor1D;
}

/**
 * The encoder path shared by embedding and masked pretraining: conv feature extractor (GroupNorm with
 * one group per channel on layer 0 only, exact GELU), LayerNorm, post_extract_proj, then, as wav2vec 2.0
 * masks, hidden frames replaced by the mask embedding, grouped positional convolution (SamePad, GELU)
 * added to the features, and the post-LN transformer.
 *
 * @param segments [B, segmentLength, inChannels], leads in ECG-FM's order, channels last
 * @returns the encoder output per frame [B, frames, dModel]
 */
export function ecgfmEncode(params: EcgfmParams, segments: tf.Tensor3D, mask?: EcgfmFrameMask): tf.Tensor3D {
  const { config } = params;
  const eps = 1e-5;
  let x: tf.Tensor3D = segments;
  config.convLayers.forEach(([, , stride], i) => {
    x = tf.conv1d(x, params.convFilters[i]!, stride, 'valid');
    const bias = params.convBiases[i];
    if (bias) x = tf.add(x, bias);
    if (i === 0) {
      const { mean, variance } = tf.moments(x, 1, true);
      const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
      x = tf.add(tf.mul(normalized, params.groupNorm.weight), params.groupNorm.bias!);
    }
    x = geluErf(x) as tf.Tensor3D;
  });
  let features: tf.Tensor = layerNorm(x, params.featureNorm, eps);
  if (params.postExtractProj) features = dense(features, params.postExtractProj);
  if (mask) {
    const [batch, frames] = mask.hidden.shape;
    const hidden = tf.reshape(mask.hidden, [batch, frames, 1]);
    features = tf.add(tf.mul(features, tf.sub(1, hidden)), tf.mul(hidden, mask.embedding));
  }
  const hidden = tf.add(features, positionalConvolution(params, features as tf.Tensor3D));
  const scale = 1 / Math.sqrt(config.dModel / config.heads);
  return layerByLayer(layerNorm(hidden, params.encoderNorm, eps), params.layers, (input, layer) => {
    const q = splitHeads(dense(input, layer.q), config.heads);
    const k = splitHeads(dense(input, layer.k), config.heads);
    const v = splitHeads(dense(input, layer.v), config.heads);
    const attended = dense(mergeHeads(attention(q, k, v, scale)), layer.out);
    const mid = layerNorm(tf.add(input, attended), layer.attentionNorm, eps);
    const ffn = dense(geluErf(dense(mid, layer.fc1)), layer.fc2);
    return layerNorm(tf.add(mid, ffn), layer.finalNorm, eps);
  }) as tf.Tensor3D;
}

/** The fine-tuned classifier's logits from pooled segment embeddings: [B, dModel] -> [B, labels]. */
export function ecgfmLogits(params: EcgfmParams, pooled: tf.Tensor2D): tf.Tensor2D {
  if (!params.classifier) throw new Error('this ECG-FM configuration has no classifier head (labels 0)');
  return dense(pooled, params.classifier) as tf.Tensor2D;
}

/** Conv1d(d, d, K, padding K/2, groups) + SamePad (drops the last frame for even K) + GELU. */
function positionalConvolution(params: EcgfmParams, x: tf.Tensor3D): tf.Tensor3D {
  const { convPos } = params.config;
  const half = Math.floor(convPos / 2);
  const padded = tf.pad(x, [
    [0, 0],
    [half, half],
    [0, 0],
  ]);
  let conv = tf.add(groupedConv1d(padded, params.positionFilters, 1), params.positionBias) as tf.Tensor3D;
  if (convPos % 2 === 0) {
    const [batch, frames, width] = conv.shape;
    conv = tf.slice(conv, [0, 0, 0], [batch, frames - 1, width]);
  }
  return geluErf(conv) as tf.Tensor3D;
}
