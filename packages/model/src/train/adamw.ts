export interface AdamWSettings {
  learningRate: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * AdamW (Loshchilov & Hutter): Adam with weight decay applied to the weights directly rather than
 * through the gradient, which tfjs's Adam lacks. It runs in plain JS over one flat array of all the
 * trainable values it owns (one loop per step instead of a dozen small kernels per tensor, whose
 * per-call overhead dominates at the reference's batch size of 16). One instance per model or shard.
 */
export class AdamW {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private step = 0;
  private readonly settings: Required<AdamWSettings>;

  constructor(settings: AdamWSettings, size: number) {
    this.settings = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, ...settings };
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** Updates `params` in place from `grads` (both as long as the optimiser's size). */
  update(params: Float32Array, grads: Float32Array): void {
    if (params.length !== this.m.length || grads.length !== this.m.length) {
      throw new Error(
        `AdamW holds ${this.m.length} values, given ${params.length} and ${grads.length} gradients`,
      );
    }
    this.step += 1;
    const { learningRate, weightDecay, beta1, beta2, epsilon } = this.settings;
    const decay = 1 - learningRate * weightDecay;
    const keep1 = 1 - beta1;
    const keep2 = 1 - beta2;
    const stepSize = learningRate / (1 - beta1 ** this.step);
    const secondScale = 1 / (1 - beta2 ** this.step);
    const { m, v } = this;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i] as number;
      const mi = beta1 * (m[i] as number) + keep1 * g;
      const vi = beta2 * (v[i] as number) + keep2 * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = (params[i] as number) * decay - (stepSize * mi) / (Math.sqrt(vi * secondScale) + epsilon);
    }
  }
}
