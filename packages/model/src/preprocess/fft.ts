/**
 * Complex discrete Fourier transform of any length, in float64: iterative radix-2 for powers of two,
 * mixed-radix Cooley-Tukey when every prime factor is small (5000 = 2^3 5^4, 500, 336 = 2^4 3 7),
 * Bluestein's chirp-z (a power-of-two convolution) otherwise. Plans are cached per length because the
 * same few lengths recur for every record.
 */
export interface ComplexArray {
  re: Float64Array;
  im: Float64Array;
}

interface Radix2Plan {
  kind: 'radix2';
  n: number;
  bitReversed: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

interface BluesteinPlan {
  kind: 'bluestein';
  n: number;
  inner: Radix2Plan;
  chirpRe: Float64Array;
  chirpIm: Float64Array;
  /** Forward transform of the conjugate chirp, zero-padded and wrapped, ready for the convolution. */
  kernelRe: Float64Array;
  kernelIm: Float64Array;
}

interface MixedRadixPlan {
  kind: 'mixed';
  n: number;
  /** Prime factors, largest first, so the innermost (most repeated) combines are the cheap radix-2 ones. */
  factors: number[];
  /** W_n^j = exp(-2 pi i j / n) for j < n. */
  cos: Float64Array;
  sin: Float64Array;
}

type Plan = Radix2Plan | BluesteinPlan | MixedRadixPlan;

/** Largest prime factor handled by direct radix-p butterflies; larger ones go through Bluestein. */
const MAX_RADIX = 13;

const plans = new Map<number, Plan>();

function smallFactors(n: number): number[] | null {
  const factors: number[] = [];
  let rest = n;
  for (let p = 2; p <= MAX_RADIX && rest > 1; p++) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  return rest === 1 ? factors.reverse() : null;
}

function mixedRadixPlan(n: number, factors: number[]): MixedRadixPlan {
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    cos[j] = Math.cos((2 * Math.PI * j) / n);
    sin[j] = -Math.sin((2 * Math.PI * j) / n);
  }
  return { kind: 'mixed', n, factors, cos, sin };
}

/**
 * Decimation in time: the length-n transform of x[offset + stride * t] is built from the p transforms of
 * its p interleaved subsequences (written to out[outOffset + r * m ...]), then combined per frequency k.
 */
function mixedRadix(
  plan: MixedRadixPlan,
  inRe: Float64Array,
  inIm: Float64Array,
  offset: number,
  stride: number,
  n: number,
  level: number,
  outRe: Float64Array,
  outIm: Float64Array,
  outOffset: number,
  scratchRe: Float64Array,
  scratchIm: Float64Array,
): void {
  if (n === 1) {
    outRe[outOffset] = inRe[offset]!;
    outIm[outOffset] = inIm[offset]!;
    return;
  }
  const p = plan.factors[level]!;
  const m = n / p;
  for (let r = 0; r < p; r++) {
    mixedRadix(
      plan,
      inRe,
      inIm,
      offset + r * stride,
      stride * p,
      m,
      level + 1,
      outRe,
      outIm,
      outOffset + r * m,
      scratchRe,
      scratchIm,
    );
  }
  const twiddleStep = plan.n / n;
  const rootStep = plan.n / p;
  for (let k = 0; k < m; k++) {
    for (let r = 0; r < p; r++) {
      const index = (r * k * twiddleStep) % plan.n;
      const wr = plan.cos[index]!;
      const wi = plan.sin[index]!;
      const yr = outRe[outOffset + r * m + k]!;
      const yi = outIm[outOffset + r * m + k]!;
      scratchRe[r] = yr * wr - yi * wi;
      scratchIm[r] = yr * wi + yi * wr;
    }
    for (let q = 0; q < p; q++) {
      let sumRe = 0;
      let sumIm = 0;
      for (let r = 0; r < p; r++) {
        const index = ((r * q) % p) * rootStep;
        const wr = plan.cos[index]!;
        const wi = plan.sin[index]!;
        sumRe += scratchRe[r]! * wr - scratchIm[r]! * wi;
        sumIm += scratchRe[r]! * wi + scratchIm[r]! * wr;
      }
      outRe[outOffset + q * m + k] = sumRe;
      outIm[outOffset + q * m + k] = sumIm;
    }
  }
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function radix2Plan(n: number): Radix2Plan {
  const bits = Math.log2(n);
  const bitReversed = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitReversed[i] = r;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = -Math.sin((2 * Math.PI * k) / n);
  }
  return { kind: 'radix2', n, bitReversed, cos, sin };
}

function planFor(n: number): Plan {
  let plan = plans.get(n);
  if (plan) return plan;
  const factors = smallFactors(n);
  if (isPowerOfTwo(n)) {
    plan = radix2Plan(n);
  } else if (factors !== null) {
    plan = mixedRadixPlan(n, factors);
  } else {
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    const inner = radix2Plan(m);
    const chirpRe = new Float64Array(n);
    const chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small, so the chirp stays accurate for large n.
      const angle = (Math.PI * ((k * k) % (2 * n))) / n;
      chirpRe[k] = Math.cos(angle);
      chirpIm[k] = -Math.sin(angle);
    }
    const kernelRe = new Float64Array(m);
    const kernelIm = new Float64Array(m);
    kernelRe[0] = chirpRe[0]!;
    kernelIm[0] = -chirpIm[0]!;
    for (let k = 1; k < n; k++) {
      kernelRe[k] = kernelRe[m - k] = chirpRe[k]!;
      kernelIm[k] = kernelIm[m - k] = -chirpIm[k]!;
    }
    radix2InPlace(inner, kernelRe, kernelIm);
    plan = { kind: 'bluestein', n, inner, chirpRe, chirpIm, kernelRe, kernelIm };
  }
  plans.set(n, plan);
  return plan;
}

function radix2InPlace(plan: Radix2Plan, re: Float64Array, im: Float64Array): void {
  const { n, bitReversed, cos, sin } = plan;
  for (let i = 0; i < n; i++) {
    const j = bitReversed[i]!;
    if (j > i) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]!;
        const wi = sin[k * step]!;
        const a = start + k;
        const b = a + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/** Forward DFT X[k] = sum_t x[t] exp(-2 pi i k t / n), unnormalised (numpy/scipy convention). */
export function fft(input: ComplexArray): ComplexArray {
  const n = input.re.length;
  const plan = planFor(n);
  if (plan.kind === 'radix2') {
    const re = Float64Array.from(input.re);
    const im = Float64Array.from(input.im);
    radix2InPlace(plan, re, im);
    return { re, im };
  }
  if (plan.kind === 'mixed') {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    const scratch = MAX_RADIX;
    mixedRadix(
      plan,
      input.re,
      input.im,
      0,
      1,
      n,
      0,
      re,
      im,
      0,
      new Float64Array(scratch),
      new Float64Array(scratch),
    );
    return { re, im };
  }
  const m = plan.inner.n;
  const re = new Float64Array(m);
  const im = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    const cr = plan.chirpRe[k]!;
    const ci = plan.chirpIm[k]!;
    re[k] = input.re[k]! * cr - input.im[k]! * ci;
    im[k] = input.re[k]! * ci + input.im[k]! * cr;
  }
  radix2InPlace(plan.inner, re, im);
  for (let k = 0; k < m; k++) {
    const r = re[k]! * plan.kernelRe[k]! - im[k]! * plan.kernelIm[k]!;
    im[k] = re[k]! * plan.kernelIm[k]! + im[k]! * plan.kernelRe[k]!;
    re[k] = r;
  }
  // Inverse of the inner transform through the conjugation identity ifft(x) = conj(fft(conj(x))) / m.
  for (let k = 0; k < m; k++) im[k] = -im[k]!;
  radix2InPlace(plan.inner, re, im);
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const cr = re[k]! / m;
    const ci = -im[k]! / m;
    outRe[k] = cr * plan.chirpRe[k]! - ci * plan.chirpIm[k]!;
    outIm[k] = cr * plan.chirpIm[k]! + ci * plan.chirpRe[k]!;
  }
  return { re: outRe, im: outIm };
}

/** Inverse DFT with the 1/n factor (numpy/scipy convention). */
export function ifft(input: ComplexArray): ComplexArray {
  const n = input.re.length;
  const conjugated = { re: input.re, im: input.im.map((v) => -v) };
  const out = fft(conjugated);
  for (let k = 0; k < n; k++) {
    out.re[k] = out.re[k]! / n;
    out.im[k] = -out.im[k]! / n;
  }
  return out;
}

/**
 * Spectrum bins 0..floor(n/2) of a real signal. For even n the signal is packed into a complex one of
 * half the length (even samples real, odd samples imaginary), transformed, and the two interleaved
 * spectra separated again: half the work of a complex transform.
 */
export function rfft(signal: ArrayLike<number>): ComplexArray {
  const n = signal.length;
  const bins = Math.floor(n / 2) + 1;
  if (n % 2 !== 0 || n < 4) {
    const full = fft({ re: Float64Array.from(signal), im: new Float64Array(n) });
    return { re: full.re.slice(0, bins), im: full.im.slice(0, bins) };
  }
  const half = n / 2;
  const packedRe = new Float64Array(half);
  const packedIm = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    packedRe[j] = signal[2 * j]!;
    packedIm[j] = signal[2 * j + 1]!;
  }
  const z = fft({ re: packedRe, im: packedIm });
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    const a = k % half;
    const b = (half - k) % half;
    // Even-sample spectrum E = (Z[k] + conj Z[-k]) / 2, odd-sample spectrum O = (Z[k] - conj Z[-k]) / 2i.
    const evenRe = (z.re[a]! + z.re[b]!) / 2;
    const evenIm = (z.im[a]! - z.im[b]!) / 2;
    const oddRe = (z.im[a]! + z.im[b]!) / 2;
    const oddIm = -(z.re[a]! - z.re[b]!) / 2;
    const angle = (-2 * Math.PI * k) / n;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    re[k] = evenRe + oddRe * wr - oddIm * wi;
    im[k] = evenIm + oddRe * wi + oddIm * wr;
  }
  return { re, im };
}
