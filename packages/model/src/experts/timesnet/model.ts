import { InputError } from '@enecg/common';
import { packBatch, tf, unpackBatch } from '../../backend/index.ts';
import type { InitRule, WeightSource } from '../../safetensors/index.ts';
import { selectPeriods } from './periods.ts';

/** TimesNet (Wu et al.) in the Time-Series-Library layout, classification path without its head. */
export interface TimesNetConfig {
  seqLen: number;
  /** TSLib `enc_in`: one channel per selected lead. */
  channels: number;
  dModel: number;
  dFf: number;
  eLayers: number;
  topK: number;
  numKernels: number;
  /**
   * `flatten`: the classification path's input to `projection`, gelu(enc_out) flattened time-major
   * (T * d_model values; the padding mask is all ones for complete records). `time-mean`: the same
   * activations averaged over time (d_model values), a compact alternative.
   */
  embedding: 'flatten' | 'time-mean';
}

const LAYER_NORM_EPS = 1e-5;
const TOKEN_CONV = 'enc_embedding.value_embedding.tokenConv.weight';
/** A buffer, not a parameter: pretraining leaves it as it is. */
export const TIMESNET_POSITIONS = 'enc_embedding.position_embedding.pe';

/**
 * The checkpoint's tensors (TSLib names, PyTorch layouts) and their random init: the token Conv1d
 * [d_model, C, 3] (kaiming_normal fan_in leaky_relu in TSLib), the inception kernels [out, in, k, k]
 * (kaiming_normal fan_out relu; both as uniforms of equal variance here), biases 0, the layer norm,
 * and the positional buffer.
 */
export function timesnetTensorSpecs(
  config: TimesNetConfig,
): Array<{ name: string; shape: readonly number[]; init: InitRule }> {
  const { channels, dModel, dFf, numKernels } = config;
  const tokenStd = Math.sqrt(2 / (1 + 0.01 ** 2)) / Math.sqrt(channels * 3);
  const specs: Array<{ name: string; shape: readonly number[]; init: InitRule }> = [
    {
      name: TOKEN_CONV,
      shape: [dModel, channels, 3],
      init: { kind: 'uniform', bound: tokenStd * Math.sqrt(3) },
    },
    {
      name: TIMESNET_POSITIONS,
      shape: [1, MAX_POSITIONS, dModel],
      init: { kind: 'computed', data: sinusoidalPositions(MAX_POSITIONS, dModel) },
    },
  ];
  for (let i = 0; i < config.eLayers; i++) {
    for (const [conv, inChannels, outChannels] of [
      [0, dModel, dFf],
      [2, dFf, dModel],
    ] as const) {
      for (let j = 0; j < numKernels; j++) {
        const k = 2 * j + 1;
        const std = Math.sqrt(2 / (outChannels * k * k));
        const prefix = `model.${i}.conv.${conv}.kernels.${j}`;
        specs.push(
          {
            name: `${prefix}.weight`,
            shape: [outChannels, inChannels, k, k],
            init: { kind: 'uniform', bound: std * Math.sqrt(3) },
          },
          { name: `${prefix}.bias`, shape: [outChannels], init: { kind: 'constant', value: 0 } },
        );
      }
    }
  }
  specs.push(
    { name: 'layer_norm.weight', shape: [dModel], init: { kind: 'constant', value: 1 } },
    { name: 'layer_norm.bias', shape: [dModel], init: { kind: 'constant', value: 0 } },
  );
  return specs;
}
const MAX_POSITIONS = 5000;

/** The encoder's tensors as the forward pass uses them (tfjs layouts). */
export interface TimesNetParams {
  /** [3, C, d_model] */
  tokenKernel: tf.Tensor3D;
  /** [T, d_model] */
  positions: tf.Tensor2D;
  blocks: Array<[InceptionWeights, InceptionWeights]>;
  norm: [tf.Tensor1D, tf.Tensor1D];
}

export interface InceptionWeights {
  /** The num_kernels convolutions (kernel 2j+1, padding j, averaged) folded into one (2K-1)^2 kernel:
   * averaging linear maps is itself linear, and one larger kernel costs fewer multiplications. */
  kernel: tf.Tensor4D;
  bias: tf.Tensor1D;
}

export class TimesNetModel {
  private constructor(
    readonly config: TimesNetConfig,
    private readonly params: TimesNetParams,
  ) {}

  get embeddingSize(): number {
    return this.config.embedding === 'flatten' ? this.config.seqLen * this.config.dModel : this.config.dModel;
  }

  static load(weights: WeightSource, config: TimesNetConfig): TimesNetModel {
    const { seqLen, dModel } = config;
    const tensors = new Map(
      timesnetTensorSpecs(config).map(({ name, shape, init }) => [
        name,
        tf.tensor(weights.take(name, shape, init), [...shape]),
      ]),
    );
    // Nothing else in TimesNet depends on seq_len: the head's shape is the check that the checkpoint was
    // trained on inputs of this length.
    const head = weights.shapeOf('projection.weight');
    if (head !== undefined && head[1] !== seqLen * dModel) {
      tf.dispose([...tensors.values()]);
      throw new InputError(
        `tensor projection.weight has shape [${head}], which implies seq_len ${head[1]! / dModel}, not ${seqLen}`,
        { file: weights.source, field: 'projection.weight' },
      );
    }
    // The temporal (time-feature) embedding only applies when timestamps are given, never for
    // classification; the projection is the head this embedding stops before.
    weights.finish(
      (name) => name.startsWith('enc_embedding.temporal_embedding.') || name.startsWith('projection.'),
    );
    // tidy keeps the tensors it returns (an object of them, which its types do not spell out).
    const params = tf.tidy(
      () => timesnetParams((name) => tensors.get(name)!, config) as unknown as tf.TensorContainer,
    ) as unknown as TimesNetParams;
    const kept = new Set<tf.Tensor>([...params.norm]);
    tf.dispose([...tensors.values()].filter((tensor) => !kept.has(tensor)));
    return new TimesNetModel(config, params);
  }

  /** Inputs are channel-major [C x T] per record; returns one embedding per input. */
  forward(inputs: readonly Float32Array[]): Float32Array[] {
    const { seqLen: t, channels: c, dModel: d } = this.config;
    const b = inputs.length;
    let encoded = tf.tidy(() =>
      timesnetTokens(
        this.params,
        tf.transpose(tf.tensor3d(packBatch(inputs, c * t), [b, c, t]), [0, 2, 1]) as tf.Tensor3D,
      ),
    );
    for (const block of this.params.blocks) {
      const next = timesBlock(encoded, block, this.params.norm, this.config);
      encoded.dispose();
      encoded = next;
    }
    const out = tf.tidy(() => {
      const activated = gelu(encoded);
      return this.config.embedding === 'flatten' ? tf.reshape(activated, [b, t * d]) : tf.mean(activated, 1);
    });
    encoded.dispose();
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return unpackBatch(data, b, this.embeddingSize);
  }

  dispose(): void {
    const { tokenKernel, positions, blocks, norm } = this.params;
    tf.dispose([
      tokenKernel,
      positions,
      ...blocks.flatMap((pair) => pair.flatMap((w) => [w.kernel, w.bias])),
      ...norm,
    ]);
  }
}

/**
 * layer_norm(TimesBlock(x)) with periods and their weights chosen per record (from the values, so they
 * are constants to autodiff: pretraining learns the convolutions for the periods the data has).
 */
export function timesBlock(
  x: tf.Tensor3D,
  [first, second]: readonly [InceptionWeights, InceptionWeights],
  norm: readonly [tf.Tensor1D, tf.Tensor1D],
  config: TimesNetConfig,
): tf.Tensor3D {
  const { seqLen: t, dModel: d, topK } = config;
  const b = x.shape[0];
  const values = x.dataSync() as Float32Array;
  const choices = Array.from({ length: b }, (_, r) =>
    selectPeriods(values.subarray(r * t * d, (r + 1) * t * d), t, d, topK),
  );
  return tf.tidy(() => {
    let aggregated: tf.Tensor3D = x;
    for (let k = 0; k < topK; k++) {
      // Records sharing this branch's period run as one sub-batch; each output row depends on its record only.
      const groups = new Map<number, number[]>();
      choices.forEach((choice, r) => {
        const period = choice.periods[k]!;
        groups.set(period, [...(groups.get(period) ?? []), r]);
      });
      const pieces: tf.Tensor3D[] = [];
      const order: number[] = [];
      for (const [period, members] of groups) {
        const rows = members.length === b ? x : (tf.gather(x, members) as tf.Tensor3D);
        const padded = Math.ceil(t / period) * period;
        let grid: tf.Tensor =
          padded === t
            ? rows
            : tf.pad(rows, [
                [0, 0],
                [0, padded - t],
                [0, 0],
              ]);
        grid = tf.reshape(grid, [members.length, padded / period, period, d]);
        grid = inception(gelu(inception(grid as tf.Tensor4D, first)), second);
        pieces.push(
          tf.slice(
            tf.reshape(grid, [members.length, padded, d]) as tf.Tensor3D,
            [0, 0, 0],
            [members.length, t, d],
          ),
        );
        order.push(...members);
      }
      const stacked = pieces.length === 1 ? pieces[0]! : tf.concat(pieces, 0);
      const inverse = order.map((_, r) => order.indexOf(r));
      const branch = order.every((r, i) => r === i) ? stacked : tf.gather(stacked, inverse);
      const weight = tf.tensor3d(
        choices.map((choice) => choice.weights[k]!),
        [b, 1, 1],
      );
      aggregated = tf.add(aggregated, tf.mul(branch, weight));
    }
    return layerNorm(aggregated, norm[0], norm[1]);
  });
}

/** Token convolution (kernel 3, circular padding 1) plus positions: [B, T, C] -> [B, T, d_model]. */
export function timesnetTokens(
  params: Pick<TimesNetParams, 'tokenKernel' | 'positions'>,
  x: tf.Tensor3D,
): tf.Tensor3D {
  const [b, t, c] = x.shape;
  // Conv1d with kernel 3 and circular padding 1: wrap one sample around each end, then a valid conv.
  const wrapped = tf.concat([tf.slice(x, [0, t - 1, 0], [b, 1, c]), x, tf.slice(x, [0, 0, 0], [b, 1, c])], 1);
  return tf.add(tf.conv1d(wrapped, params.tokenKernel, 1, 'valid'), params.positions) as tf.Tensor3D;
}

/**
 * The forward pass's tensors from the checkpoint's (TSLib names and PyTorch layouts): a loaded
 * checkpoint's, or pretraining's variables, through which gradients then flow.
 */
export function timesnetParams(get: (name: string) => tf.Tensor, config: TimesNetConfig): TimesNetParams {
  const { seqLen, dModel, eLayers, numKernels } = config;
  const inception = (prefix: string) => {
    const kernel = (part: string) =>
      Array.from({ length: numKernels }, (_, j) => get(`${prefix}.kernels.${j}.${part}`));
    return mergeInceptionTensors(kernel('weight'), kernel('bias'));
  };
  return {
    tokenKernel: tf.transpose(get(TOKEN_CONV), [2, 1, 0]) as tf.Tensor3D,
    positions: tf.reshape(tf.slice(get(TIMESNET_POSITIONS), [0, 0, 0], [1, seqLen, dModel]), [
      seqLen,
      dModel,
    ]) as tf.Tensor2D,
    blocks: Array.from({ length: eLayers }, (_, i): [InceptionWeights, InceptionWeights] => [
      inception(`model.${i}.conv.0`),
      inception(`model.${i}.conv.2`),
    ]),
    norm: [get('layer_norm.weight') as tf.Tensor1D, get('layer_norm.bias') as tf.Tensor1D],
  };
}

/**
 * The num_kernels convolutions of an inception block (torch weights [out, in, k, k], k = 1, 3, ...) ->
 * one centred [K, K, in, out] kernel averaging them, and the mean bias.
 */
function mergeInceptionTensors(
  kernels: readonly tf.Tensor[],
  biases: readonly tf.Tensor[],
): InceptionWeights {
  const size = 2 * kernels.length - 1;
  const centred = kernels.map((weight) => {
    const k = weight.shape[2]!;
    const pad = (size - k) / 2;
    return tf.pad(tf.transpose(weight, [2, 3, 1, 0]), [
      [pad, pad],
      [pad, pad],
      [0, 0],
      [0, 0],
    ]);
  });
  return {
    kernel: tf.div(tf.addN(centred), kernels.length) as tf.Tensor4D,
    bias: tf.div(tf.addN([...biases]), biases.length) as tf.Tensor1D,
  };
}

function inception(x: tf.Tensor4D, w: InceptionWeights): tf.Tensor4D {
  return tf.add(tf.conv2d(x, w.kernel, 1, 'same'), w.bias);
}

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as torch's default. */
function gelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

function layerNorm(x: tf.Tensor3D, weight: tf.Tensor1D, bias: tf.Tensor1D): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, LAYER_NORM_EPS))), weight), bias);
}

/** TSLib's PositionalEmbedding buffer: sin on even, cos on odd features, wavelengths up to 10000. */
export function sinusoidalPositions(positions: number, dModel: number): Float32Array {
  const pe = new Float32Array(positions * dModel);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < dModel; i += 2) {
      const angle = p * Math.exp(-i * (Math.log(10000) / dModel));
      pe[p * dModel + i] = Math.sin(angle);
      if (i + 1 < dModel) pe[p * dModel + i + 1] = Math.cos(angle);
    }
  }
  return pe;
}
