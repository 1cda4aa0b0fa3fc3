/**
 * A small seeded generator (mulberry32) returning uniforms in [0, 1). Built only from 32-bit integer
 * operations, so a seed gives the same stream on every platform: fixtures, benchmarks and random
 * initialisations must not depend on Math.random.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
