import { mulberry32, sha256, sha256File } from '@enecg/common';
import { readSafetensors } from './safetensors.ts';
import { WeightReader } from './weights.ts';

/** How a tensor is initialised when no checkpoint is given (PyTorch's defaults for the layer kind). */
export type InitRule =
  | { kind: 'uniform'; bound: number }
  | { kind: 'constant'; value: number }
  | { kind: 'computed'; data: Float32Array };

/**
 * Where an expert's tensors come from: a safetensors checkpoint (by reference names, strictly) or a
 * seeded random initialisation. Each tensor's random stream is derived from (seed, name), so a tensor's
 * values do not depend on which other tensors the architecture has.
 */
export interface WeightSource {
  /** sha256 of the checkpoint, or `random-init:<seed>`. */
  readonly weightsId: string;
  /** The checkpoint's path (named in errors), or the weightsId when seeded. */
  readonly source: string;
  take(name: string, shape: readonly number[], init: InitRule): Float32Array;
  /** The stored shape of a checkpoint tensor (undefined when absent or when seeded). */
  shapeOf(name: string): readonly number[] | undefined;
  /** Refuses checkpoint tensors the architecture did not take, except those `ignored`. */
  finish(ignored?: (name: string) => boolean): void;
}

export async function openWeights(weightsPath: string | undefined, seed: number): Promise<WeightSource> {
  if (weightsPath === undefined) return seededWeights(seed);
  const contents = await readSafetensors(weightsPath);
  const reader = new WeightReader(contents, weightsPath);
  const weightsId = await sha256File(weightsPath);
  return {
    weightsId,
    source: weightsPath,
    take: (name, shape) => reader.take(name, shape),
    shapeOf: (name) => contents.tensors.get(name)?.shape,
    finish: (ignored) => reader.assertAllUsed(ignored),
  };
}

export function seededWeights(seed: number): WeightSource {
  return {
    weightsId: `random-init:${seed}`,
    source: `random-init:${seed}`,
    take(name, shape, init) {
      const count = shape.reduce((a, b) => a * b, 1);
      if (init.kind === 'computed') return init.data;
      if (init.kind === 'constant') return new Float32Array(count).fill(init.value);
      const random = mulberry32(Number.parseInt(sha256(`${seed}:${name}`).slice(0, 8), 16));
      return Float32Array.from({ length: count }, () => (2 * random() - 1) * init.bound);
    },
    shapeOf: () => undefined,
    finish() {},
  };
}
