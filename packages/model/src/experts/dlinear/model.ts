import { packBatch, tf, unpackBatch } from '../../backend/index.ts';
import type { InitRule, WeightSource } from '../../safetensors/index.ts';

/** DLinear (Zeng et al.) in the Time-Series-Library layout, classification variant without its head. */
export interface DLinearConfig {
  /** Input length T (TSLib `seq_len`; classification sets pred_len = seq_len). */
  seqLen: number;
  /** Input channels (TSLib `enc_in`): one per selected lead. */
  channels: number;
  /** Moving-average kernel of the series decomposition (odd). */
  movingAvg: number;
  /** One Linear pair per channel (`Linear_Seasonal.{c}.weight`) instead of a shared pair. */
  individual: boolean;
}

/**
 * The embedding is the classification path's input to `projection`: the decomposed-linear encoder
 * output [T, C] flattened time-major (`enc_out.reshape(B, -1)`), so T * C values per record.
 */
export class DLinearModel {
  private constructor(
    readonly config: DLinearConfig,
    private readonly averaging: tf.Tensor2D,
    /** Per channel group (one group when shared): [seasonal W, seasonal b, trend W, trend b]. */
    private readonly linears: DLinearGroup[],
  ) {}

  get embeddingSize(): number {
    return this.config.seqLen * this.config.channels;
  }

  static load(weights: WeightSource, config: DLinearConfig): DLinearModel {
    const t = config.seqLen;
    const tensors = dlinearTensorSpecs(config).map(({ name, shape, init }) =>
      tf.tensor(weights.take(name, shape, init), [...shape]),
    );
    weights.finish((name) => name.startsWith('projection.'));
    const linears = groupLinears(tensors as Array<tf.Tensor2D | tf.Tensor1D>);
    return new DLinearModel(config, tf.tensor2d(movingAverageMatrix(t, config.movingAvg), [t, t]), linears);
  }

  /** Inputs are channel-major [C x T] per record; returns one embedding per input. */
  forward(inputs: readonly Float32Array[]): Float32Array[] {
    const { seqLen: t, channels: c } = this.config;
    const b = inputs.length;
    const flat = tf.tidy(() => {
      const x = tf.tensor2d(packBatch(inputs, c * t), [b * c, t]);
      const encoded = dlinearEncode(x, this.averaging, this.linears, this.config);
      return tf.reshape(tf.transpose(encoded, [0, 2, 1]), [b, t * c]);
    });
    const data = flat.dataSync() as Float32Array;
    flat.dispose();
    return unpackBatch(data, b, t * c);
  }

  dispose(): void {
    this.averaging.dispose();
    for (const group of this.linears) for (const tensor of group) tensor.dispose();
  }
}

/** Per channel group (one group when shared): seasonal weight and bias, trend weight and bias. */
export type DLinearGroup = [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];

/**
 * The checkpoint's tensors in group order (seasonal weight, bias, trend weight, bias per group), with
 * TSLib's initialisation: Linear weights overwritten with 1/seq_len, biases nn.Linear's
 * uniform(+-1/sqrt(in)).
 */
export function dlinearTensorSpecs(
  config: DLinearConfig,
): Array<{ name: string; shape: readonly number[]; init: InitRule }> {
  const t = config.seqLen;
  const groups = config.individual ? Array.from({ length: config.channels }, (_, c) => `.${c}`) : [''];
  const weightInit = { kind: 'constant', value: 1 / t } as const;
  const biasInit = { kind: 'uniform', bound: 1 / Math.sqrt(t) } as const;
  return groups.flatMap((g) => [
    { name: `Linear_Seasonal${g}.weight`, shape: [t, t], init: weightInit },
    { name: `Linear_Seasonal${g}.bias`, shape: [t], init: biasInit },
    { name: `Linear_Trend${g}.weight`, shape: [t, t], init: weightInit },
    { name: `Linear_Trend${g}.bias`, shape: [t], init: biasInit },
  ]);
}

/** Tensors in `dlinearTensorSpecs` order -> one [seasonal W, b, trend W, b] group per channel group. */
export function groupLinears(tensors: ReadonlyArray<tf.Tensor2D | tf.Tensor1D>): DLinearGroup[] {
  const groups: DLinearGroup[] = [];
  for (let i = 0; i < tensors.length; i += 4) groups.push(tensors.slice(i, i + 4) as DLinearGroup);
  return groups;
}

/**
 * The decomposed-linear encoder: rows [B*C, T] (channel-major records) -> [B, C, T]. Trend is the
 * moving average with edge replication, as a [T, T] matrix product; seasonal is the rest.
 */
export function dlinearEncode(
  x: tf.Tensor2D,
  averaging: tf.Tensor2D,
  linears: readonly DLinearGroup[],
  config: DLinearConfig,
): tf.Tensor3D {
  const { seqLen: t, channels: c } = config;
  const b = x.shape[0] / c;
  const trend = tf.matMul(x, averaging, false, true) as tf.Tensor2D;
  const seasonal = tf.sub(x, trend) as tf.Tensor2D;
  const project = (rows: tf.Tensor2D, trendRows: tf.Tensor2D, group: number) => {
    const [ws, bs, wt, bt] = linears[group]!;
    return tf.add(
      tf.add(tf.matMul(rows, ws, false, true), bs),
      tf.add(tf.matMul(trendRows, wt, false, true), bt),
    );
  };
  if (!config.individual) return tf.reshape(project(seasonal, trend, 0), [b, c, t]);
  const s3 = tf.reshape(seasonal, [b, c, t]);
  const t3 = tf.reshape(trend, [b, c, t]);
  const perChannel = Array.from({ length: c }, (_, ch) =>
    project(
      tf.reshape(tf.slice(s3, [0, ch, 0], [b, 1, t]), [b, t]),
      tf.reshape(tf.slice(t3, [0, ch, 0], [b, 1, t]), [b, t]),
      ch,
    ),
  );
  return tf.stack(perChannel, 1) as tf.Tensor3D;
}

/**
 * A[i][j]: the weight of sample j in the k-point average centred on i, after replicating the first and
 * last samples (k-1)/2 times (TSLib `moving_avg`).
 */
export function movingAverageMatrix(length: number, kernel: number): Float32Array {
  const half = (kernel - 1) / 2;
  const matrix = new Float32Array(length * length);
  for (let i = 0; i < length; i++) {
    for (let q = i; q < i + kernel; q++) {
      const j = Math.min(Math.max(q - half, 0), length - 1);
      matrix[i * length + j] = matrix[i * length + j]! + 1 / kernel;
    }
  }
  return matrix;
}
