import type { EcgRecord } from '@enecg/common';
import { alignBeats, delineate, medianBeat } from './delineate.ts';
import { consensusBeats, detectQrsInLead, type LeadDetection } from './detect.ts';
import { bandPass, lowPass, toneAmplitude } from './filters.ts';

/** Values by measurement name (see features.ts); NaN where a wave or lead was not available. */
export type Measurements = Map<string, number>;

/** A lead with a spread below this (mV) carries no ECG: it is left out and flagged. */
const FLAT_LEAD_MV = 0.005;

/** Samples as float64 with invalid (NaN) samples held at the last valid value; undefined if too few valid. */
function cleanLead(signal: Float32Array): { values: Float64Array; invalid: number } | undefined {
  const values = new Float64Array(signal.length);
  let invalid = 0;
  let last = Number.NaN;
  for (let i = 0; i < signal.length; i++) {
    const v = signal[i] as number;
    if (Number.isFinite(v)) last = v;
    else invalid++;
    values[i] = last;
  }
  if (invalid > signal.length / 2) return undefined;
  const firstValid = values.findIndex(Number.isFinite);
  for (let i = 0; i < firstValid; i++) values[i] = values[firstValid] as number;
  return { values, invalid };
}

function standardDeviation(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i] as number;
  mean /= n;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += ((values[i] as number) - mean) ** 2;
  return Math.sqrt(sum / n);
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function findLead(names: readonly string[], wanted: string): number {
  const exact = names.indexOf(wanted);
  if (exact >= 0) return exact;
  const lower = wanted.toLowerCase();
  return names.findIndex((name) => name.toLowerCase() === lower);
}

/**
 * Every measurement of one record. Deterministic (float64 arithmetic only, no randomness) and total:
 * a flat, missing or unreadable lead, a record without beats or without P or T waves gives NaN for what
 * cannot be measured and sets the matching flag, never an exception.
 */
export function measureRecord(record: EcgRecord, featureLeads: readonly string[]): Measurements {
  return analyseRecord(record, featureLeads).measurements;
}

export interface RecordAnalysis {
  measurements: Measurements;
  /** Every consensus beat, timed by its match with the median QRS (sample indices, ascending). */
  beats: number[];
}

export function analyseRecord(record: EcgRecord, featureLeads: readonly string[]): RecordAnalysis {
  const out: Measurements = new Map();
  const fs = record.samplingRate;
  const ms = (samples: number) => (samples / fs) * 1000;
  const cleaned = record.signals.map((signal) => cleanLead(signal));
  const invalidSamples = cleaned.reduce(
    (sum, lead, i) => sum + (lead ? lead.invalid : record.signals[i]!.length),
    0,
  );
  const totalSamples = record.signals.reduce((sum, s) => sum + s.length, 0);
  const filtered: Array<Float64Array | undefined> = cleaned.map((lead) =>
    lead && standardDeviation(lead.values) >= FLAT_LEAD_MV
      ? bandPass(lead.values, fs, 0.5, Math.min(40, 0.45 * fs))
      : undefined,
  );
  const usable = filtered.flatMap((signal, index) => (signal ? [index] : []));
  const usableSignals = usable.map((index) => filtered[index] as Float64Array);
  out.set('nan_fraction', totalSamples > 0 ? invalidSamples / totalSamples : 1);
  out.set('flat_lead_fraction', record.signals.length > 0 ? 1 - usable.length / record.signals.length : 1);

  // Noise indices over the usable leads: baseline wander, high-frequency noise, mains pick-up.
  const wander: number[] = [];
  const highFrequency: number[] = [];
  const mains: number[] = [];
  for (const index of usable) {
    const values = (cleaned[index] as { values: Float64Array }).values;
    wander.push(standardDeviation(lowPass(values, fs, 0.67)));
    const smooth = lowPass(values, fs, Math.min(40, 0.45 * fs));
    highFrequency.push(standardDeviation(values.map((v, i) => v - (smooth[i] as number))));
    mains.push(Math.max(toneAmplitude(values, fs, 50), toneAmplitude(values, fs, 60)));
  }
  out.set('wander_mv', median(wander));
  out.set('hf_noise_mv', median(highFrequency));
  out.set('mains_mv', median(mains));

  const detections: LeadDetection[] = usable.map((index) =>
    detectQrsInLead((cleaned[index] as { values: Float64Array }).values, fs),
  );
  const consensus = detections.length > 0 ? consensusBeats(detections, fs) : { beats: [], leadAgreement: [] };
  out.set(
    'lead_agreement',
    consensus.leadAgreement.length > 0
      ? consensus.leadAgreement.reduce((a, b) => a + b, 0) / consensus.leadAgreement.length
      : Number.NaN,
  );

  const allRr = consensus.beats.slice(1).map((at, i) => at - (consensus.beats[i] as number));
  const rrGuess = allRr.length > 0 ? median(allRr) : Math.round(0.8 * fs);
  const pre = Math.round(Math.min(0.4 * fs, 0.5 * rrGuess));
  const post = Math.round(Math.min(0.7 * fs, 0.85 * rrGuess));
  const firstBeat =
    usableSignals.length > 0 ? medianBeat(usableSignals, consensus.beats, pre, post) : undefined;
  const firstShape = firstBeat ? delineate(firstBeat, fs, rrGuess) : undefined;
  // Beats timed by their match with the median QRS; then the median beat again, from the aligned beats.
  const aligned =
    firstBeat && firstShape
      ? alignBeats(
          usableSignals,
          consensus.beats,
          firstBeat,
          firstShape.qrsOnset,
          firstShape.qrsEnd,
          Math.round(0.03 * fs),
        )
      : consensus.beats;
  const beat = firstBeat ? (medianBeat(usableSignals, aligned, pre, post) ?? firstBeat) : undefined;
  const shape = beat ? delineate(beat, fs, rrGuess) : undefined;

  // Only complexes wholly inside the record count for the rhythm (the cart's convention).
  const n = record.signals[0]?.length ?? 0;
  const complete = shape
    ? aligned.filter((at) => at + (shape.qrsOnset - pre) >= 0 && at + (shape.qrsEnd - pre) < n)
    : consensus.beats;
  const rr = complete.slice(1).map((at, i) => ms(at - (complete[i] as number)));
  const successive = rr.slice(1).map((value, i) => value - (rr[i] as number));
  const rrMean =
    complete.length > 1
      ? ms((complete[complete.length - 1] as number) - (complete[0] as number)) / (complete.length - 1)
      : Number.NaN;
  out.set('beats', consensus.beats.length);
  out.set('rhythm_unmeasurable', rr.length === 0 ? 1 : 0);
  out.set('rr_mean_ms', rrMean);
  out.set('rr_std_ms', rr.length > 0 ? standardDeviation(rr) : Number.NaN);
  out.set('rr_min_ms', rr.length > 0 ? Math.min(...rr) : Number.NaN);
  out.set('rr_max_ms', rr.length > 0 ? Math.max(...rr) : Number.NaN);
  out.set(
    'rr_rmssd_ms',
    successive.length > 0
      ? Math.sqrt(successive.reduce((s, d) => s + d * d, 0) / successive.length)
      : Number.NaN,
  );
  out.set(
    'rr_pnn50',
    successive.length > 0
      ? successive.filter((d) => Math.abs(d) > 50).length / successive.length
      : Number.NaN,
  );
  out.set('rr_cv', rr.length > 0 ? standardDeviation(rr) / rrMean : Number.NaN);
  out.set('rr_irregularity', successive.length > 0 ? median(successive.map(Math.abs)) / rrMean : Number.NaN);
  out.set('heart_rate_bpm', 60000 / rrMean);
  out.set('ectopic_fraction', beat ? beat.ectopicFraction : Number.NaN);
  out.set('beat_residual_mv', beat ? beat.residualMv : Number.NaN);

  const at = (offset: number) => (shape && Number.isFinite(offset) ? ms(offset) : Number.NaN);
  const qt = shape ? at(shape.tEnd - shape.qrsOnset) : Number.NaN;
  const rrSeconds = (Number.isFinite(rrMean) ? rrMean : ms(rrGuess)) / 1000;
  out.set('qrs_ms', shape ? at(shape.qrsEnd - shape.qrsOnset) : Number.NaN);
  out.set('pr_ms', shape ? at(shape.qrsOnset - shape.pOnset) : Number.NaN);
  out.set('p_duration_ms', shape ? at(shape.pEnd - shape.pOnset) : Number.NaN);
  out.set('qt_ms', qt);
  out.set('qtc_bazett_ms', qt / Math.sqrt(rrSeconds));
  out.set('qtc_fridericia_ms', qt / Math.cbrt(rrSeconds));
  out.set('t_peak_to_end_ms', shape ? at(shape.tEnd - shape.tPeak) : Number.NaN);
  out.set('t_width_ms', shape ? at(shape.tWidth) : Number.NaN);
  out.set('p_amplitude_mv', shape ? shape.pAmplitude : Number.NaN);
  out.set('t_amplitude_mv', shape ? shape.tAmplitude : Number.NaN);
  out.set('qrs_amplitude_mv', shape ? shape.qrsAmplitude : Number.NaN);
  out.set('p_absent', shape && Number.isFinite(shape.pPeak) ? 0 : 1);
  out.set('t_absent', shape && Number.isFinite(shape.tPeak) ? 0 : 1);

  // Per-lead amplitudes from the median beat, relative to the lead's PR-segment level.
  const rowOf = (name: string) => {
    const index = findLead(record.leadNames, name);
    const row = index >= 0 ? usable.indexOf(index) : -1;
    return row >= 0 && beat && shape ? row : -1;
  };
  const levelAt = (row: number, offset: number) =>
    row >= 0 && beat && shape && Number.isFinite(offset)
      ? ((beat.leads[row] as Float64Array)[
          Math.min(beat.leads[row]!.length - 1, Math.max(0, Math.round(offset)))
        ] as number) - (shape.baseline[row] as number)
      : Number.NaN;
  const areaOf = (row: number, from: number, to: number) => {
    if (row < 0 || !beat || !shape || !Number.isFinite(from) || !Number.isFinite(to) || to <= from)
      return Number.NaN;
    const lead = beat.leads[row] as Float64Array;
    let sum = 0;
    for (let t = Math.max(0, Math.round(from)); t <= Math.min(lead.length - 1, Math.round(to)); t++)
      sum += (lead[t] as number) - (shape.baseline[row] as number);
    return sum / fs;
  };
  const stOffset = shape ? shape.qrsEnd + Math.round(0.06 * fs) : Number.NaN;
  for (const name of featureLeads) {
    const row = rowOf(name);
    let r = Number.NaN;
    let s = Number.NaN;
    if (row >= 0 && shape) {
      r = 0;
      s = 0;
      for (let t = shape.qrsOnset; t <= shape.qrsEnd; t++) {
        const v = levelAt(row, t);
        r = Math.max(r, v);
        s = Math.min(s, v);
      }
    }
    out.set(`r_amplitude_${name}_mv`, r);
    out.set(`s_amplitude_${name}_mv`, s);
    out.set(`st_level_${name}_mv`, levelAt(row, stOffset));
    out.set(`t_amplitude_${name}_mv`, levelAt(row, shape ? shape.tPeak : Number.NaN));
    out.set(`lead_${name}_absent`, findLead(record.leadNames, name) >= 0 && rowOf(name) >= 0 ? 0 : 1);
  }

  // Frontal axes from the net areas of leads I and aVF (aVF = II - I/2 when only I and II are present).
  const rowI = rowOf('I');
  const rowII = rowOf('II');
  const rowAvf = rowOf('aVF');
  const axis = (from: number, to: number) => {
    const x = areaOf(rowI, from, to);
    const avf = rowAvf >= 0 ? areaOf(rowAvf, from, to) : areaOf(rowII, from, to) - x / 2;
    const angle = Math.atan2((2 / Math.sqrt(3)) * avf, x);
    return Number.isFinite(angle) && (x !== 0 || avf !== 0) ? angle : Number.NaN;
  };
  const qrsAxis = shape ? axis(shape.qrsOnset, shape.qrsEnd) : Number.NaN;
  const pAxis = shape ? axis(shape.pOnset, shape.pEnd) : Number.NaN;
  const tAxis = shape ? axis(shape.qrsEnd + Math.round(0.04 * fs), shape.tEnd) : Number.NaN;
  for (const [wave, angle] of [
    ['p', pAxis],
    ['qrs', qrsAxis],
    ['t', tAxis],
  ] as const) {
    out.set(`${wave}_axis_cos`, Math.cos(angle));
    out.set(`${wave}_axis_sin`, Math.sin(angle));
  }
  const qrsT = Math.abs(((((qrsAxis - tAxis) * 180) / Math.PI + 540) % 360) - 180);
  out.set('qrs_t_angle_deg', qrsT);
  out.set('axes_unavailable', Number.isFinite(qrsAxis) ? 0 : 1);
  return { measurements: out, beats: aligned };
}
