/**
 * Zero-phase filters for delineation. Every filter runs forward then backward (as scipy's filtfilt),
 * so wave positions are not delayed; the record is extended at both ends by its odd reflection so the
 * filters start settled. Float64 throughout: results are identical on every platform.
 */

interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
}

/** Second-order Butterworth section (Q = 1/sqrt 2), bilinear transform with pre-warping. */
function butterworth(kind: 'low' | 'high', cutoffHz: number, samplingRate: number): Biquad {
  const w0 = (2 * Math.PI * cutoffHz) / samplingRate;
  const alpha = Math.sin(w0) / Math.SQRT2;
  const cos = Math.cos(w0);
  const a0 = 1 + alpha;
  const k = kind === 'low' ? (1 - cos) / 2 : (1 + cos) / 2;
  const b1 = kind === 'low' ? 1 - cos : -(1 + cos);
  return { b0: k / a0, b1: b1 / a0, b2: k / a0, a1: (-2 * cos) / a0, a2: (1 - alpha) / a0 };
}

function runBiquad(section: Biquad, x: Float64Array): void {
  const { b0, b1, b2, a1, a2 } = section;
  // Start from the steady state of the first input value, so a constant offset causes no transient.
  const first = x[0] ?? 0;
  const gainAtDc = (b0 + b1 + b2) / (1 + a1 + a2);
  let x1 = first;
  let x2 = first;
  let y1 = first * gainAtDc;
  let y2 = y1;
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i] as number;
    const y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = x0;
    y2 = y1;
    y1 = y0;
    x[i] = y0;
  }
}

/** A chain of sections applied forward and backward over the oddly reflected signal. */
function filtfilt(sections: readonly Biquad[], signal: Float64Array, pad: number): Float64Array {
  const n = signal.length;
  if (n < 2) return Float64Array.from(signal);
  const p = Math.min(pad, n - 1);
  const work = new Float64Array(n + 2 * p);
  const head = signal[0] as number;
  const tail = signal[n - 1] as number;
  for (let i = 0; i < p; i++) work[i] = 2 * head - (signal[p - i] as number);
  work.set(signal, p);
  for (let i = 0; i < p; i++) work[p + n + i] = 2 * tail - (signal[n - 2 - i] as number);
  for (const section of sections) runBiquad(section, work);
  work.reverse();
  for (const section of sections) runBiquad(section, work);
  work.reverse();
  return work.slice(p, p + n);
}

/**
 * Band-pass (high-pass then low-pass, each a zero-phase second-order Butterworth); `lowHz` 0 skips the
 * high-pass. Edge padding is one period of the lower corner (at most the record).
 */
export function bandPass(
  signal: Float64Array,
  samplingRate: number,
  lowHz: number,
  highHz: number,
): Float64Array {
  const sections: Biquad[] = [];
  if (lowHz > 0) sections.push(butterworth('high', lowHz, samplingRate));
  if (highHz < samplingRate / 2) sections.push(butterworth('low', highHz, samplingRate));
  const pad = Math.round(samplingRate / Math.max(lowHz, 1));
  return filtfilt(sections, signal, pad);
}

/** Low-pass only (e.g. the baseline wander below 0.67 Hz). */
export function lowPass(signal: Float64Array, samplingRate: number, cutoffHz: number): Float64Array {
  return filtfilt([butterworth('low', cutoffHz, samplingRate)], signal, Math.round(samplingRate / cutoffHz));
}

/** Centered moving average over `width` samples (odd widths keep it centered exactly). */
export function movingAverage(signal: Float64Array, width: number): Float64Array {
  const n = signal.length;
  const half = Math.floor(width / 2);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (signal[i] as number);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half + 1);
    out[i] = ((prefix[hi] as number) - (prefix[lo] as number)) / (hi - lo);
  }
  return out;
}

/** Amplitude (same unit as the signal) of a sinusoid at `hz`, by the Goertzel recurrence. */
export function toneAmplitude(signal: Float64Array, samplingRate: number, hz: number): number {
  const n = signal.length;
  if (n === 0 || hz >= samplingRate / 2) return 0;
  const w = (2 * Math.PI * hz) / samplingRate;
  const coefficient = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = (signal[i] as number) + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / n;
}
