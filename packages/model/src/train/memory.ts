import * as tf from '@tensorflow/tfjs-core';

/** Bytes currently held by tensors on the active backend (for peak-memory sampling during training). */
export function tensorBytesInUse(): number {
  return tf.memory().numBytes;
}
