import * as tf from '@tensorflow/tfjs-core';

export interface AdamWSettings {
  learningRate: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * AdamW (Loshchilov & Hutter): Adam with weight decay applied to the weights directly rather than
 * through the gradient, which tfjs's Adam lacks. One instance per model: its moments belong to it.
 */
export class AdamW {
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
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
    const correction1 = 1 - this.beta1 ** this.step;
    const correction2 = 1 - this.beta2 ** this.step;
    for (const [name, grad] of Object.entries(grads)) {
      const variable = variables.get(name);
      if (!variable) throw new Error(`gradient for unknown variable ${name}`);
      let state = this.moments.get(name);
      if (!state) {
        state = {
          m: tf.variable(tf.zerosLike(variable), false),
          v: tf.variable(tf.zerosLike(variable), false),
        };
        this.moments.set(name, state);
      }
      const { m, v } = state;
      tf.tidy(() => {
        const nextM = tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1));
        const nextV = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        const denominator = tf.add(tf.sqrt(tf.div(nextV, correction2)), this.epsilon);
        const update = tf.mul(tf.div(tf.div(nextM, correction1), denominator), learningRate);
        const decayed = weightDecay > 0 ? tf.mul(variable, 1 - learningRate * weightDecay) : variable;
        m.assign(nextM);
        v.assign(nextV);
        variable.assign(tf.sub(decayed, update));
      });
    }
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}
