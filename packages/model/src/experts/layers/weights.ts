import { InputError, sha256 } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '../../safetensors/index.ts';

/** Tensors by their reference (PyTorch state_dict) names, in PyTorch layout. */
export type WeightMap = ReadonlyMap<string, tf.Tensor>;

/** How a tensor is filled when no checkpoint is given: seeded N(0, 0.02), constants, or a fixed table. */
export type InitKind = 'normal' | 'ones' | 'zeros' | (() => tf.Tensor);

/** One tensor an expert needs: its reference name, shape and random-init rule. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: InitKind;
  /** Other names a published checkpoint may use for the same tensor (library-version dependent). */
  readonly aliases?: readonly string[];
  /** A leading dimension that may be longer in the checkpoint (e.g. a positional table). */
  readonly minLeadingAxis?: { axis: number; min: number };
}

/**
 * Resolves every spec against a weight map, refusing a missing or mis-shaped tensor with an InputError
 * that names the tensor, and refusing tensors that no spec took unless `unused` declares them (a
 * checkpoint for another architecture or size must not half-load). Returns the tensors keyed by the
 * spec's canonical name.
 */
export function resolveWeights(
  weights: WeightMap,
  specs: readonly WeightSpec[],
  source: string,
  unused: (name: string) => boolean,
): Map<string, tf.Tensor> {
  const resolved = new Map<string, tf.Tensor>();
  const taken = new Set<string>();
  for (const spec of specs) {
    const candidates = [spec.name, ...(spec.aliases ?? [])];
    const found = candidates.find((name) => weights.has(name));
    if (found === undefined) {
      const tried = candidates.length > 1 ? ` (also tried ${candidates.slice(1).join(', ')})` : '';
      throw new InputError(`missing tensor ${spec.name}${tried}`, { file: source, field: spec.name });
    }
    const tensor = weights.get(found)!;
    if (!shapeMatches(tensor.shape, spec)) {
      throw new InputError(
        `tensor ${found} has shape [${tensor.shape.join(', ')}], expected [${spec.shape.join(', ')}]`,
        { file: source, field: found },
      );
    }
    resolved.set(spec.name, tensor);
    taken.add(found);
  }
  const leftover = [...weights.keys()].filter((name) => !taken.has(name) && !unused(name)).sort();
  if (leftover.length > 0) {
    throw new InputError(`unexpected tensor(s) for this architecture and size: ${leftover.join(', ')}`, {
      file: source,
      field: leftover[0]!,
    });
  }
  return resolved;
}

function shapeMatches(actual: readonly number[], spec: WeightSpec): boolean {
  if (actual.length !== spec.shape.length) return false;
  return spec.shape.every((expected, axis) => {
    const flexible = spec.minLeadingAxis;
    if (flexible && flexible.axis === axis) return (actual[axis] ?? 0) >= flexible.min;
    return actual[axis] === expected;
  });
}

/**
 * Seeded random weights with the reference names, for running an expert without a checkpoint. Each
 * tensor's stream derives from (seed, name), so it does not depend on the other tensors.
 */
export function randomWeights(specs: readonly WeightSpec[], seed: number): Map<string, tf.Tensor> {
  const weights = new Map<string, tf.Tensor>();
  for (const spec of specs) {
    const shape = [...spec.shape];
    const tensor =
      typeof spec.init === 'function'
        ? spec.init()
        : spec.init === 'ones'
          ? tf.ones(shape)
          : spec.init === 'zeros'
            ? tf.zeros(shape)
            : tf.randomNormal(
                shape,
                0,
                0.02,
                'float32',
                Number.parseInt(sha256(`${seed}:${spec.name}`).slice(0, 8), 16),
              );
    weights.set(spec.name, tensor);
  }
  return weights;
}

/** A safetensors checkpoint as tensors by name (float32, PyTorch layout). */
export async function readWeightMap(path: string): Promise<Map<string, tf.Tensor>> {
  const contents = await readSafetensors(path);
  const weights = new Map<string, tf.Tensor>();
  for (const [name, tensor] of contents.tensors)
    weights.set(name, tf.tensor(tensor.data, tensor.shape, 'float32'));
  return weights;
}

/** Parameter count of a spec list (at the spec's own shapes). */
export function parameterCount(specs: readonly WeightSpec[]): number {
  return specs.reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0);
}
