import * as tf from '@tensorflow/tfjs-core';
// The union package registers every kernel's gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<string> | undefined;

/**
 * Training needs the gradient kernels of dense layers only (MatMul, Relu/Step, Softmax, elementwise),
 * which the wasm backend has; it is ~30x faster than the pure-JS cpu backend for matmuls. The cpu
 * backend remains the fallback when wasm cannot start.
 */
export function ensureTrainingBackend(): Promise<string> {
  ready ??= (async () => {
    const wanted = process.env.ENECG_TF_BACKEND ?? 'wasm';
    try {
      if (!(await tf.setBackend(wanted))) throw new Error(`backend ${wanted} did not start`);
    } catch {
      await tf.setBackend('cpu');
    }
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}
