import * as tf from '@tensorflow/tfjs-core';
import {
  attention,
  causalBias,
  type Dense,
  dense,
  denseFromConv1D,
  denseFromLinear,
  geluTanh,
  layerByLayer,
  layerNorm,
  mergeHeads,
  type Norm,
  splitHeads,
} from '../layers/ops.ts';
import { resolveWeights, type WeightMap, type WeightSpec } from '../layers/weights.ts';

/**
 * GPT-2 BPE ids of TEMPO's three prompts ("Predict the future time step given the trend|season|residual"),
 * shipped as constants so that no tokenizer is downloaded. Computed once with the GPT-2 (r50k) vocabulary.
 */
export const TEMPO_PROMPT_TOKENS = {
  trend: [47, 17407, 262, 2003, 640, 2239, 1813, 262, 5182],
  season: [47, 17407, 262, 2003, 640, 2239, 1813, 262, 1622],
  residual: [47, 17407, 262, 2003, 640, 2239, 1813, 262, 29598],
};

/** TEMPO-80M_v1 (`configs/run_TEMPO.yml`): GPT-2 small truncated to 6 layers, prompt 1, no prompt pool. */
export interface TempoConfig {
  seqLen: number;
  predLen: number;
  patchSize: number;
  stride: number;
  movingAverage: number;
  dModel: number;
  heads: number;
  layers: number;
  vocabSize: number;
  positions: number;
  loraRank: number;
  loraAlpha: number;
  promptTrend: number[];
  promptSeason: number[];
  promptResidual: number[];
}

const REFERENCE = {
  seqLen: 336,
  predLen: 96,
  patchSize: 16,
  stride: 8,
  movingAverage: 25,
  vocabSize: 50257,
  positions: 1024,
  loraRank: 16,
  loraAlpha: 16,
  promptTrend: TEMPO_PROMPT_TOKENS.trend,
  promptSeason: TEMPO_PROMPT_TOKENS.season,
  promptResidual: TEMPO_PROMPT_TOKENS.residual,
};

export const TEMPO_PRESETS: Record<string, TempoConfig> = {
  /** Reference input sizes and prompts, a narrow backbone and a vocabulary just wide enough for the prompts. */
  tiny: { ...REFERENCE, dModel: 32, heads: 4, layers: 2, vocabSize: 29599, loraRank: 4, loraAlpha: 4 },
  full: { ...REFERENCE, dModel: 768, heads: 12, layers: 6 },
};

/** (seqLen + stride - patch) / stride + 1: ReplicationPad1d((0, stride)) adds one patch. */
export function tempoPatchCount(config: TempoConfig): number {
  return Math.floor((config.seqLen - config.patchSize) / config.stride) + 2;
}

/** The peft-wrapped GPT-2's names inside the TEMPO state_dict. */
export const GPT2_PREFIX = 'gpt2_trend.base_model.model.';
const COMPONENTS = ['trend', 'season', 'noise'] as const;

export function tempoWeightSpecs(config: TempoConfig): WeightSpec[] {
  const { dModel: d, seqLen: L, loraRank: r } = config;
  const patches = tempoPatchCount(config);
  const promptLength = config.promptTrend.length;
  const g = GPT2_PREFIX;
  const linear = (name: string, out: number, inDim: number): WeightSpec[] => [
    { name: `${name}.weight`, shape: [out, inDim], init: 'normal' },
    { name: `${name}.bias`, shape: [out], init: 'zeros' },
  ];
  const norm = (name: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [d], init: 'ones' },
    { name: `${name}.bias`, shape: [d], init: 'zeros' },
  ];
  // Newer peft versions insert `.base_layer.` in front of a wrapped layer's own parameters.
  const conv1d = (name: string, inDim: number, out: number, wrapped: boolean): WeightSpec[] =>
    (['weight', 'bias'] as const).map((kind) => ({
      name: `${name}.${kind}`,
      shape: kind === 'weight' ? [inDim, out] : [out],
      init: kind === 'weight' ? ('normal' as const) : ('zeros' as const),
      ...(wrapped ? { aliases: [`${name}.base_layer.${kind}`] } : {}),
    }));
  const specs: WeightSpec[] = [
    { name: `${g}wte.weight`, shape: [config.vocabSize, d], init: 'normal' },
    {
      name: `${g}wpe.weight`,
      shape: [config.positions, d],
      init: 'normal',
      minLeadingAxis: { axis: 0, min: 3 * (promptLength + patches) },
    },
  ];
  for (let i = 0; i < config.layers; i++) {
    const h = `${g}h.${i}`;
    specs.push(
      ...norm(`${h}.ln_1`),
      ...conv1d(`${h}.attn.c_attn`, d, 3 * d, true),
      { name: `${h}.attn.c_attn.lora_A.default.weight`, shape: [r, d], init: 'normal' },
      { name: `${h}.attn.c_attn.lora_B.default.weight`, shape: [3 * d, r], init: 'zeros' },
      ...conv1d(`${h}.attn.c_proj`, d, d, false),
      ...norm(`${h}.ln_2`),
      ...conv1d(`${h}.mlp.c_fc`, d, 4 * d, false),
      ...conv1d(`${h}.mlp.c_proj`, 4 * d, d, false),
    );
  }
  specs.push(
    ...norm(`${g}ln_f`),
    ...linear('map_trend', L, L),
    ...linear('map_season.0', 4 * L, L),
    ...linear('map_season.2', L, 4 * L),
    { name: 'rev_in_trend.affine_weight', shape: [1], init: 'ones' },
    { name: 'rev_in_trend.affine_bias', shape: [1], init: 'zeros' },
  );
  for (const part of COMPONENTS) {
    specs.push(
      ...linear(`in_layer_${part}`, d, config.patchSize),
      ...linear(`prompt_layer_${part}`, d, d),
      ...linear(`out_layer_${part}`, config.predLen, d * patches),
    );
  }
  return specs;
}

/**
 * Checkpoint tensors TEMPO holds but never reads on this path: the unused residual map, RevIN of the other
 * components, the Fourier season module, and GPT-2's causal-mask buffers of older transformers versions.
 */
export function isUnusedTempoTensor(name: string): boolean {
  return (
    name.startsWith('map_resid.') ||
    name.startsWith('rev_in_season.') ||
    name.startsWith('rev_in_noise.') ||
    name.startsWith('mul_season.') ||
    /\.attn\.(bias|masked_bias)$/.test(name)
  );
}

interface Gpt2Block {
  ln1: Norm;
  qkv: Dense;
  proj: Dense;
  ln2: Norm;
  fc: Dense;
  fcProj: Dense;
}

interface Component {
  inLayer: Dense;
  promptLayer: Dense;
  outLayer: Dense;
  promptTokens: tf.Tensor1D;
}

export interface TempoParams {
  config: TempoConfig;
  wte: tf.Tensor2D;
  wpe: tf.Tensor2D;
  blocks: Gpt2Block[];
  lnF: Norm;
  mapTrend: Dense;
  mapSeason1: Dense;
  mapSeason2: Dense;
  revinWeight: tf.Tensor;
  revinBias: tf.Tensor;
  components: Record<(typeof COMPONENTS)[number], Component>;
}

/** Validates the checkpoint, and merges each LoRA adapter into its c_attn kernel (W + (B A)^T alpha/r). */
export function prepareTempo(weights: WeightMap, config: TempoConfig, source: string): TempoParams {
  const w = resolveWeights(weights, tempoWeightSpecs(config), source, isUnusedTempoTensor);
  const get = (name: string) => w.get(name)!;
  const linear = (name: string) => denseFromLinear(get(`${name}.weight`), get(`${name}.bias`));
  const conv1d = (name: string) => denseFromConv1D(get(`${name}.weight`), get(`${name}.bias`));
  const norm = (name: string): Norm => ({
    weight: get(`${name}.weight`) as tf.Tensor1D,
    bias: get(`${name}.bias`) as tf.Tensor1D,
  });
  const g = GPT2_PREFIX;
  const blocks: Gpt2Block[] = [];
  for (let i = 0; i < config.layers; i++) {
    const h = `${g}h.${i}`;
    const merged = tf.tidy(() => {
      const delta = tf.matMul(
        get(`${h}.attn.c_attn.lora_B.default.weight`),
        get(`${h}.attn.c_attn.lora_A.default.weight`),
      );
      return tf.add(
        get(`${h}.attn.c_attn.weight`),
        tf.mul(tf.transpose(delta), config.loraAlpha / config.loraRank),
      );
    });
    blocks.push({
      ln1: norm(`${h}.ln_1`),
      qkv: denseFromConv1D(merged, get(`${h}.attn.c_attn.bias`)),
      proj: conv1d(`${h}.attn.c_proj`),
      ln2: norm(`${h}.ln_2`),
      fc: conv1d(`${h}.mlp.c_fc`),
      fcProj: conv1d(`${h}.mlp.c_proj`),
    });
  }
  const prompts = { trend: config.promptTrend, season: config.promptSeason, noise: config.promptResidual };
  const component = (part: (typeof COMPONENTS)[number]): Component => ({
    inLayer: linear(`in_layer_${part}`),
    promptLayer: linear(`prompt_layer_${part}`),
    outLayer: linear(`out_layer_${part}`),
    promptTokens: tf.tensor1d(prompts[part], 'int32'),
  });
  return {
    config,
    wte: get(`${g}wte.weight`) as tf.Tensor2D,
    wpe: get(`${g}wpe.weight`) as tf.Tensor2D,
    blocks,
    lnF: norm(`${g}ln_f`),
    mapTrend: linear('map_trend'),
    mapSeason1: linear('map_season.0'),
    mapSeason2: linear('map_season.2'),
    revinWeight: get('rev_in_trend.affine_weight'),
    revinBias: get('rev_in_trend.affine_bias'),
    components: { trend: component('trend'), season: component('season'), noise: component('noise') },
  };
}

export interface TempoOutputs {
  /** [B, predLen]: the forecast, denormalised (the reference model's output). */
  forecast: tf.Tensor2D;
  /** [B, dModel]: last hidden state averaged over the 3 x patches time-series tokens (prompts excluded). */
  hiddenMean: tf.Tensor2D;
}

/**
 * TEMPO's forward for one channel (num_nodes 1, prompt 1, no pool, use_token 0): RevIN, moving-average
 * trend -> map_trend, season MLP, residual; replication-padded patches; prompt embeddings prepended per
 * component; one GPT-2 pass over [trend; season; residual]; three flatten heads summed; RevIN denorm.
 *
 * @param x [B, seqLen]
 */
export function tempoForward(params: TempoParams, x: tf.Tensor2D): TempoOutputs {
  const { config } = params;
  const [batch] = x.shape;
  const patches = tempoPatchCount(config);
  const promptLength = config.promptTrend.length;
  const d = config.dModel;
  const eps = 1e-5;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 1, true);
    const stdev = tf.sqrt(tf.add(variance, eps));
    const normalized = tf.add(tf.mul(tf.div(tf.sub(x, mean), stdev), params.revinWeight), params.revinBias);
    const trend = dense(movingAverage(normalized, config.movingAverage), params.mapTrend);
    const season = dense(tf.relu(dense(tf.sub(normalized, trend), params.mapSeason1)), params.mapSeason2);
    const noise = tf.sub(tf.sub(normalized, trend), season);

    const sequences = COMPONENTS.map((part, index) => {
      const c = params.components[part];
      const series = [trend, season, noise][index]!;
      const embedded = dense(patchify(series, config), c.inLayer); // [B, P, d]
      const prompt = dense(tf.gather(params.wte, c.promptTokens), c.promptLayer); // [T, d]
      const promptBatch = tf.tile(tf.expandDims(prompt, 0), [batch, 1, 1]);
      return tf.concat([promptBatch, embedded], 1);
    });
    const hidden = gpt2(params, tf.concat(sequences, 1));

    let forecast: tf.Tensor = tf.zeros([batch, config.predLen]);
    const patchStates: tf.Tensor[] = [];
    COMPONENTS.forEach((part, index) => {
      const start = index * (promptLength + patches) + promptLength;
      const states = tf.slice(hidden, [0, start, 0], [batch, patches, d]);
      patchStates.push(states);
      forecast = tf.add(
        forecast,
        dense(tf.reshape(states, [batch, patches * d]), params.components[part].outLayer),
      );
    });
    const denormalized = tf.add(
      tf.mul(tf.div(tf.sub(forecast, params.revinBias), tf.add(params.revinWeight, eps * eps)), stdev),
      mean,
    ) as tf.Tensor2D;
    const hiddenMean = tf.mean(tf.concat(patchStates, 1), 1) as tf.Tensor2D;
    return { forecast: denormalized, hiddenMean };
  });
}

/** Edge-replicated moving average with stride 1 (length preserved for odd kernels). */
function movingAverage(x: tf.Tensor, kernel: number): tf.Tensor {
  const [batch, length] = x.shape as [number, number];
  const half = Math.floor((kernel - 1) / 2);
  const front = tf.tile(tf.slice(x, [0, 0], [batch, 1]), [1, half]);
  const end = tf.tile(tf.slice(x, [0, length - 1], [batch, 1]), [1, half]);
  const padded = tf.reshape(tf.concat([front, x, end], 1), [batch, length + 2 * half, 1, 1]) as tf.Tensor4D;
  return tf.reshape(tf.avgPool(padded, [kernel, 1], 1, 'valid'), [batch, -1]);
}

/** ReplicationPad1d((0, stride)) then unfold(patchSize, stride): [B, L] -> [B, P, patchSize]. */
function patchify(x: tf.Tensor, config: TempoConfig): tf.Tensor3D {
  const [batch, length] = x.shape as [number, number];
  const last = tf.slice(x, [0, length - 1], [batch, 1]);
  const padded = tf.concat([x, tf.tile(last, [1, config.stride])], 1);
  const patches = tempoPatchCount(config);
  const windows = Array.from({ length: patches }, (_, p) =>
    tf.slice(padded, [0, p * config.stride], [batch, config.patchSize]),
  );
  return tf.stack(windows, 1) as tf.Tensor3D;
}

/** GPT-2 over input embeddings: learned positions, pre-LN blocks with causal attention, final LayerNorm. */
function gpt2(params: TempoParams, embeddings: tf.Tensor): tf.Tensor {
  const { config } = params;
  const time = embeddings.shape[1]!;
  const eps = 1e-5;
  const mask = causalBias(time);
  const headDim = config.dModel / config.heads;
  const positioned = tf.add(embeddings, tf.slice(params.wpe, [0, 0], [time, -1]));
  const encoded = layerByLayer(positioned, params.blocks, (input, block) => {
    const qkv = dense(layerNorm(input, block.ln1, eps), block.qkv);
    const [q, k, v] = tf.split(qkv, 3, -1).map((part) => splitHeads(part, config.heads)) as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
    ];
    const hidden = tf.add(
      input,
      dense(mergeHeads(attention(q, k, v, 1 / Math.sqrt(headDim), mask)), block.proj),
    );
    const inner = geluTanh(dense(layerNorm(hidden, block.ln2, eps), block.fc));
    return tf.add(hidden, dense(inner, block.fcProj));
  });
  return layerNorm(encoded, params.lnF, eps);
}
