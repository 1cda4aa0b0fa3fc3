import { mulberry32 } from '@enecg/common';

/** Shuffles and bootstrap draws must not depend on Math.random: one seeded stream per purpose. */
export const createRng: (seed: number) => () => number = mulberry32;

/** Fisher-Yates over a copy: the one permutation that drives every array of a batch. */
export function shuffled(values: readonly number[], rng: () => number): number[] {
  const out = values.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i] as number;
    out[i] = out[j] as number;
    out[j] = tmp;
  }
  return out;
}

/** Derives an independent 31-bit seed for a named purpose, so adding one consumer never shifts another. */
export function deriveSeed(seed: number, ...parts: Array<string | number>): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of parts) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    }
    h = Math.imul(h ^ 0x2f, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}
