import { rfft } from '../../preprocess/index.ts';

/**
 * TimesNet's FFT_for_Period for ONE record: the rFFT amplitude of each of the N channels over time,
 * averaged over channels, the DC bin zeroed, the top-k frequencies (ties to the lower frequency)
 * turned into periods T // f, and softmax weights from the same amplitudes.
 *
 * Deviation from the reference: TSLib averages the amplitudes over the whole batch as well, so one
 * record's periods (and so its output) depend on its batch-mates. Choosing periods per record makes a
 * record's features a function of that record alone; for a batch of one both are identical. The DC bin
 * is never chosen (period T // 0 would be undefined for an all-constant input).
 */
export function selectPeriods(
  series: Float32Array,
  length: number,
  channels: number,
  topK: number,
): { periods: number[]; weights: number[] } {
  const bins = Math.floor(length / 2) + 1;
  const amplitude = new Float64Array(bins);
  const channel = new Float64Array(length);
  for (let c = 0; c < channels; c++) {
    for (let t = 0; t < length; t++) channel[t] = series[t * channels + c]!;
    const spectrum = rfft(channel);
    for (let f = 0; f < bins; f++)
      amplitude[f] = amplitude[f]! + Math.hypot(spectrum.re[f]!, spectrum.im[f]!) / channels;
  }
  const candidates = Array.from({ length: bins - 1 }, (_, i) => i + 1);
  candidates.sort((a, b) => amplitude[b]! - amplitude[a]! || a - b);
  const top = candidates.slice(0, topK);
  const scores = top.map((f) => amplitude[f]!);
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return { periods: top.map((f) => Math.floor(length / f)), weights: exps.map((e) => e / total) };
}
