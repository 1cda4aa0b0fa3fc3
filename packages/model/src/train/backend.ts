// The union package registers every kernel's gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs';
import { activeBackend, type BackendInfo, selectBackend } from '../backend/index.ts';

/**
 * Training needs only the gradient kernels of dense layers (MatMul, Relu/Step, Softmax, elementwise),
 * which the wasm backend has; ENECG_TF_BACKEND overrides, the cpu backend is the fallback.
 */
export async function ensureTrainingBackend(): Promise<BackendInfo> {
  const current = activeBackend();
  if (current) return current;
  const wanted = process.env.ENECG_TF_BACKEND ?? 'wasm';
  try {
    return await selectBackend(wanted as Parameters<typeof selectBackend>[0]);
  } catch {
    return selectBackend('cpu');
  }
}
