import { packBatch, tf, unpackBatch } from '../../backend/index.ts';
import type { WeightSource } from '../../safetensors/index.ts';

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
    private readonly linears: Array<[tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D]>,
  ) {}

  get embeddingSize(): number {
    return this.config.seqLen * this.config.channels;
  }

  static load(weights: WeightSource, config: DLinearConfig): DLinearModel {
    const t = config.seqLen;
    const groups = config.individual ? Array.from({ length: config.channels }, (_, c) => `.${c}`) : [''];
    // TSLib overwrites the Linear weights with 1/seq_len; biases keep nn.Linear's uniform(+-1/sqrt(in)).
    const weightInit = { kind: 'constant', value: 1 / t } as const;
    const biasInit = { kind: 'uniform', bound: 1 / Math.sqrt(t) } as const;
    const linears = groups.map((g): [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D] => [
      tf.tensor2d(weights.take(`Linear_Seasonal${g}.weight`, [t, t], weightInit), [t, t]),
      tf.tensor1d(weights.take(`Linear_Seasonal${g}.bias`, [t], biasInit)),
      tf.tensor2d(weights.take(`Linear_Trend${g}.weight`, [t, t], weightInit), [t, t]),
      tf.tensor1d(weights.take(`Linear_Trend${g}.bias`, [t], biasInit)),
    ]);
    weights.finish((name) => name.startsWith('projection.'));
    return new DLinearModel(config, tf.tensor2d(movingAverageMatrix(t, config.movingAvg), [t, t]), linears);
  }

  /** Inputs are channel-major [C x T] per record; returns one embedding per input. */
  forward(inputs: readonly Float32Array[]): Float32Array[] {
    const { seqLen: t, channels: c } = this.config;
    const b = inputs.length;
    const flat = tf.tidy(() => {
      const x = tf.tensor2d(packBatch(inputs, c * t), [b * c, t]);
      // trend = moving average with edge replication, as a [T, T] matrix product; seasonal = rest.
      const trend = tf.matMul(x, this.averaging, false, true) as tf.Tensor2D;
      const seasonal = tf.sub(x, trend) as tf.Tensor2D;
      const project = (rows: tf.Tensor2D, trendRows: tf.Tensor2D, group: number) => {
        const [ws, bs, wt, bt] = this.linears[group]!;
        return tf.add(
          tf.add(tf.matMul(rows, ws, false, true), bs),
          tf.add(tf.matMul(trendRows, wt, false, true), bt),
        );
      };
      let encoded: tf.Tensor3D;
      if (this.config.individual) {
        const s3 = tf.reshape(seasonal, [b, c, t]);
        const t3 = tf.reshape(trend, [b, c, t]);
        const perChannel = Array.from({ length: c }, (_, ch) =>
          project(
            tf.reshape(tf.slice(s3, [0, ch, 0], [b, 1, t]), [b, t]),
            tf.reshape(tf.slice(t3, [0, ch, 0], [b, 1, t]), [b, t]),
            ch,
          ),
        );
        encoded = tf.stack(perChannel, 1) as tf.Tensor3D;
      } else {
        encoded = tf.reshape(project(seasonal, trend, 0), [b, c, t]);
      }
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
