import { ifft, rfft } from './fft.ts';

/**
 * Fourier resampling of a real signal to `length` samples with the semantics of
 * `scipy.signal.resample(x, length)` (no window): keep the lowest frequencies of the rFFT, split or join
 * the Nyquist bin when the shorter length is even, inverse real FFT, scale by length / x.length.
 */
export function resampleFourier(signal: ArrayLike<number>, length: number): Float64Array {
  const inputLength = signal.length;
  if (!Number.isInteger(length) || length < 1)
    throw new RangeError(`resample length ${length} must be a positive integer`);
  if (inputLength === 0) throw new RangeError('cannot resample an empty signal');
  const spectrum = rfft(signal);
  const halfOut = Math.floor(length / 2) + 1;
  const keptRe = new Float64Array(halfOut);
  const keptIm = new Float64Array(halfOut);
  const shorter = Math.min(length, inputLength);
  const nyquistSlice = Math.floor(shorter / 2) + 1;
  for (let k = 0; k < Math.min(nyquistSlice, halfOut); k++) {
    keptRe[k] = spectrum.re[k]!;
    keptIm[k] = spectrum.im[k]!;
  }
  if (shorter % 2 === 0 && length !== inputLength) {
    const nyquist = shorter / 2;
    const factor = length < inputLength ? 2 : 0.5;
    keptRe[nyquist] = keptRe[nyquist]! * factor;
    keptIm[nyquist] = keptIm[nyquist]! * factor;
  }
  // irfft: Hermitian extension; the imaginary parts of the DC and Nyquist bins are ignored as pocketfft does.
  const fullRe = new Float64Array(length);
  const fullIm = new Float64Array(length);
  for (let k = 0; k < halfOut; k++) {
    fullRe[k] = keptRe[k]!;
    fullIm[k] = keptIm[k]!;
    if (k > 0 && length - k !== k) {
      fullRe[length - k] = keptRe[k]!;
      fullIm[length - k] = -keptIm[k]!;
    }
  }
  fullIm[0] = 0;
  if (length % 2 === 0) fullIm[length / 2] = 0;
  const time = ifft({ re: fullRe, im: fullIm }).re;
  const scale = length / inputLength;
  for (let i = 0; i < length; i++) time[i] = time[i]! * scale;
  return time;
}
