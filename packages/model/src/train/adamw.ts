import * as tf from '@tensorflow/tfjs-core';

export interface AdamWSettings {
  learningRate: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

interface State {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/**
 * AdamW (Loshchilov & Hutter): Adam with weight decay applied to the weights directly rather than
 * through the gradient, which tfjs's Adam lacks. The update runs in plain JS over a master copy of
 * each parameter: one readback and one assignment per variable instead of a dozen small kernels,
 * whose per-call overhead dominates at the reference's batch size of 16. One instance per model.
 */
export class AdamW {
  private readonly states = new Map<string, State>();
  private step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(private readonly settings: AdamWSettings) {
    this.beta1 = settings.beta1 ?? 0.9;
    this.beta2 = settings.beta2 ?? 0.999;
    this.epsilon = settings.epsilon ?? 1e-8;
  }

  get steps(): number {
    return this.step;
  }

  apply(variables: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>): void {
    this.step += 1;
    const { learningRate, weightDecay } = this.settings;
    const { beta1, beta2, epsilon } = this;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const decay = 1 - learningRate * weightDecay;
    for (const name of Object.keys(grads).sort()) {
      const variable = variables.get(name);
      if (!variable) throw new Error(`gradient for unknown variable ${name}`);
      let state = this.states.get(name);
      if (!state) {
        const params = Float32Array.from(variable.dataSync() as Float32Array);
        state = { params, m: new Float32Array(params.length), v: new Float32Array(params.length) };
        this.states.set(name, state);
      }
      const grad = (grads[name] as tf.Tensor).dataSync() as Float32Array;
      const { params, m, v } = state;
      // Constants hoisted out of the loop (it touches every trainable value on every step).
      const keep1 = 1 - beta1;
      const keep2 = 1 - beta2;
      const stepSize = learningRate / correction1;
      const secondScale = 1 / correction2;
      for (let i = 0; i < params.length; i++) {
        const g = grad[i] as number;
        const mi = beta1 * (m[i] as number) + keep1 * g;
        const vi = beta2 * (v[i] as number) + keep2 * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = (params[i] as number) * decay - (stepSize * mi) / (Math.sqrt(vi * secondScale) + epsilon);
      }
      tf.tidy(() => variable.assign(tf.tensor(params, variable.shape)));
    }
  }

  /** The optimiser's state lives in JS arrays; nothing to free on the backend. */
  dispose(): void {
    this.states.clear();
  }
}
