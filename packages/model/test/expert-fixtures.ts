import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { readWeightMap } from '../src/experts/layers/weights.ts';
import { readSafetensors } from '../src/safetensors/index.ts';

/** A golden fixture written by tools/make_expert_fixtures.py from the reference implementation. */
export interface ExpertFixture<C> {
  weightsPath: string;
  weights: Map<string, tf.Tensor>;
  io: Map<string, { shape: number[]; data: Float32Array }>;
  config: C;
}

/** Reads `<name>.*` from the committed fixtures, or from `dir` (full-size fixtures are not committed). */
export async function loadExpertFixture<C>(name: string, dir?: string): Promise<ExpertFixture<C>> {
  const base = dir ? join(dir, name) : fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const weightsPath = `${base}.weights.safetensors`;
  const meta = JSON.parse(await readFile(`${base}.json`, 'utf8')) as { config: C };
  const io = (await readSafetensors(`${base}.io.safetensors`)).tensors;
  return { weightsPath, weights: await readWeightMap(weightsPath), io, config: meta.config };
}

export function ioTensor(fixture: ExpertFixture<unknown>, name: string): tf.Tensor {
  const entry = fixture.io.get(name);
  if (!entry) throw new Error(`fixture has no ${name}`);
  return tf.tensor(entry.data, entry.shape, 'float32');
}

/** Element-wise |actual - expected| <= tolerance, reporting the worst element. */
export function expectClose(actual: tf.Tensor, expected: tf.Tensor, tolerance: number): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let worst = 0;
  let at = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - e[i]!);
    if (!(diff <= worst)) {
      worst = diff;
      at = i;
    }
  }
  expect(worst, `max |diff| ${worst} at ${at} (actual ${a[at]}, expected ${e[at]})`).toBeLessThanOrEqual(
    tolerance,
  );
}

/** Renames the tensors of a weight map (to exercise other published namings of the same tensors). */
export function renamed(
  weights: ReadonlyMap<string, tf.Tensor>,
  rename: (name: string) => string,
): Map<string, tf.Tensor> {
  return new Map([...weights].map(([name, tensor]) => [rename(name), tensor]));
}

/** A copy without one tensor, or with one tensor replaced. */
export function edited(
  weights: ReadonlyMap<string, tf.Tensor>,
  name: string,
  replacement?: tf.Tensor,
): Map<string, tf.Tensor> {
  const copy = new Map(weights);
  if (replacement) copy.set(name, replacement);
  else copy.delete(name);
  return copy;
}
