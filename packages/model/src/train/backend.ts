// The union package registers every kernel's gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs';
import {
  type BackendChoice,
  type BackendInfo,
  parseBackendChoice,
  selectBackend,
  withBackend,
} from '../backend/index.ts';

/**
 * Training, evaluation and predict run on wasm unless ENECG_TF_BACKEND names another backend, also
 * where the native backend is installed: the hand-written backward pass is many small ops, which cost
 * 1.7x the CPU time on tensorflow (per-op overhead; `npx tsx bench/train.ts`), and only on wasm are the
 * results bit-identical for any thread count. Every training thread uses this same choice.
 */
export function trainingBackendChoice(): BackendChoice {
  return parseBackendChoice(process.env.ENECG_TF_BACKEND ?? 'wasm', 'ENECG_TF_BACKEND');
}

/** Selects the training backend (falling back to cpu when it cannot start). */
export async function ensureTrainingBackend(): Promise<BackendInfo> {
  try {
    return await selectBackend(trainingBackendChoice());
  } catch {
    return selectBackend('cpu');
  }
}

/** Runs a training-side stage on the training backend, holding it for the stage (see `withBackend`). */
export function withTrainingBackend<T>(work: (info: BackendInfo) => Promise<T>): Promise<T> {
  return withBackend(trainingBackendChoice(), work);
}
