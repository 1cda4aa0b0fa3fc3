import * as tf from '@tensorflow/tfjs-core';

/** Every tensor reachable from a prepared parameter struct (objects and arrays), e.g. for disposal. */
export function tensorsOf(value: unknown, into: tf.Tensor[] = []): tf.Tensor[] {
  if (value instanceof tf.Tensor) into.push(value);
  else if (Array.isArray(value)) for (const item of value) tensorsOf(item, into);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) tensorsOf(item, into);
  return into;
}

/** Disposes every tensor of the given structs once. */
export function disposeAll(...values: unknown[]): void {
  const unique = new Set<tf.Tensor>();
  for (const value of values) for (const tensor of tensorsOf(value)) unique.add(tensor);
  for (const tensor of unique) tensor.dispose();
}

/** Concatenates typed arrays end to end (record-major batch buffers). */
export function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}
