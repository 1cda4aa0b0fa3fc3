/** Packs equally sized per-record inputs into one contiguous array (record-major) for a batch tensor. */
export function packBatch(inputs: readonly Float32Array[], size: number): Float32Array {
  const out = new Float32Array(inputs.length * size);
  inputs.forEach((input, i) => {
    if (input.length !== size)
      throw new RangeError(`input ${i} has ${input.length} values, expected ${size}`);
    out.set(input, i * size);
  });
  return out;
}

/** Splits a record-major batch result into per-record copies (so the batch buffer can be freed). */
export function unpackBatch(data: Float32Array, count: number, size: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => data.slice(i * size, (i + 1) * size));
}
