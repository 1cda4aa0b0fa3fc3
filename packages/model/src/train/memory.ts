import * as tf from '@tensorflow/tfjs-core';

/**
 * Bytes currently held by tensors (for peak-memory sampling during training), from the engine's own
 * count: `tf.memory()` asks the active backend as well, and throws while a backend is still starting,
 * which a sampling timer can hit when a stage switches to the wasm backend for the first time.
 */
export function tensorBytesInUse(): number {
  return tf.engine().state.numBytes;
}
