/**
 * Complex discrete Fourier transform of any length, in float64: iterative radix-2 for powers of two,
 * Bluestein's chirp-z (a power-of-two convolution) otherwise. Plans are cached per length because the
 * same few lengths (5000, 500, 336, 512) recur for every record.
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

const plans = new Map<number, Radix2Plan | BluesteinPlan>();

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

function planFor(n: number): Radix2Plan | BluesteinPlan {
  let plan = plans.get(n);
  if (plan) return plan;
  if (isPowerOfTwo(n)) {
    plan = radix2Plan(n);
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
