import { tf } from '../backend/index.ts';

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * Adam with global-norm clipping, its whole state in `m`, `v` and the step count. Written out rather
 * than tf.train.adam because that one rebuilds its bias-correction accumulators with pow() on restore
 * (they were products while it ran), so a resumed run would not give the same bytes as an
 * uninterrupted one; here the correction is computed from the step number alone.
 */
export class Adam {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];

  constructor(
    readonly parameters: readonly tf.Variable[],
    private readonly learningRate: number,
    private readonly clipNorm: number,
  ) {
    this.m = parameters.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = parameters.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  /** Applies step `step` (1-based) with these gradients, one per parameter in order. */
  apply(gradients: readonly tf.Tensor[], step: number): void {
    const correction = (this.learningRate * Math.sqrt(1 - BETA2 ** step)) / (1 - BETA1 ** step);
    tf.tidy(() => {
      const squares = gradients.map((g) => tf.sum(tf.square(g)));
      const norm = tf.sqrt(tf.addN(squares));
      const scale = tf.minimum(1, tf.div(this.clipNorm, tf.maximum(norm, 1e-12)));
      gradients.forEach((gradient, i) => {
        const g = tf.mul(gradient, scale);
        const m = tf.add(tf.mul(this.m[i]!, BETA1), tf.mul(g, 1 - BETA1));
        const v = tf.add(tf.mul(this.v[i]!, BETA2), tf.mul(tf.square(g), 1 - BETA2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        this.parameters[i]!.assign(
          tf.sub(this.parameters[i]!, tf.mul(correction, tf.div(m, tf.add(tf.sqrt(v), EPSILON)))),
        );
      });
    });
  }

  dispose(): void {
    for (const tensor of [...this.m, ...this.v]) tensor.dispose();
  }
}
