import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIMIC_LEAD_ORDER } from '@enecg/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/index.ts';
import { decodeRecord, median, readTable, type Table } from './helpers.ts';

const FS = 500;

/**
 * A plain R-peak detector: squared slope integrated over 60 ms, peaks above a third of a robust
 * maximum, at least 250 ms apart; each peak is placed at the largest absolute deflection nearby.
 */
function detectRPeaks(signalMv: Float64Array): number[] {
  const n = signalMv.length;
  const energy = new Float64Array(n);
  for (let i = 1; i < n - 1; i++) energy[i] = (signalMv[i + 1]! - signalMv[i - 1]!) ** 2;
  const window = Math.round(0.06 * FS);
  const integrated = new Float64Array(n);
  let running = 0;
  for (let i = 0; i < n; i++) {
    running += energy[i]! - (i >= window ? energy[i - window]! : 0);
    integrated[i] = running;
  }
  const sorted = [...integrated].sort((a, b) => a - b);
  const threshold = 0.3 * sorted[Math.floor(0.99 * n)]!;
  const refractory = Math.round(0.25 * FS);
  const peaks: number[] = [];
  let i = 0;
  while (i < n) {
    if (integrated[i]! <= threshold) {
      i++;
      continue;
    }
    let end = i;
    while (end < n && integrated[end]! > threshold) end++;
    const from = Math.max(0, i - window);
    let best = from;
    for (let k = from; k < end; k++) if (Math.abs(signalMv[k]!) > Math.abs(signalMv[best]!)) best = k;
    if (peaks.length === 0 || best - peaks[peaks.length - 1]! >= refractory) peaks.push(best);
    i = end;
  }
  return peaks;
}

/** Lead II in mV with its baseline (a centred 600 ms moving mean) removed, enough against wander. */
function leadII(samples: Int16Array): Float64Array {
  const mv = Float64Array.from(samples, (v) => v / 200);
  const prefix = new Float64Array(mv.length + 1);
  for (let i = 0; i < mv.length; i++) prefix[i + 1] = prefix[i]! + mv[i]!;
  const half = Math.round(0.3 * FS);
  return mv.map((v, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(mv.length, i + half + 1);
    return v - (prefix[hi]! - prefix[lo]!) / (hi - lo);
  });
}

describe('the generated signal', { timeout: 60_000 }, () => {
  let out: string;
  let records: Table;
  let measurements: Table;
  let truth: Table;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'enecg-synth-signal-'));
    // Every class equally often, so the check covers irregular and wide-complex rhythms too.
    await generateSynthetic({ subjects: 30, outDir: out, seed: 5, classWeights: new Array(15).fill(1) });
    records = await readTable(join(out, 'record_list.csv'));
    measurements = await readTable(join(out, 'machine_measurements.csv'));
    truth = await readTable(join(out, 'ground_truth.csv'));
  }, 60_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('has an rr_interval that an R-peak detector on lead II reproduces (median error under 10 ms)', async () => {
    const stored = new Map(measurements.rows.map((r) => [r.study_id, Number(r.rr_interval)]));
    const errors: number[] = [];
    const lead = MIMIC_LEAD_ORDER.indexOf('II');
    for (const row of records.rows) {
      const rr = stored.get(row.study_id)!;
      if (rr === 29999) continue;
      const record = await decodeRecord(join(out, row.path!));
      const peaks = detectRPeaks(leadII(record.signals[lead]!));
      const measured = ((peaks[peaks.length - 1]! - peaks[0]!) / (peaks.length - 1) / FS) * 1000;
      errors.push(Math.abs(measured - rr));
    }
    expect(errors.length).toBeGreaterThan(40);
    expect(median(errors)).toBeLessThan(10);
    // Most records, not only half of them, agree closely.
    expect(errors.filter((e) => e < 20).length / errors.length).toBeGreaterThan(0.8);
  });

  it('shows the heart-rate ranges its rhythm statements promise', () => {
    const labels = new Map(truth.rows.map((r) => [r.study_id, Number(r.report_label)]));
    for (const row of measurements.rows) {
      if (row.rr_interval === '29999') continue;
      const rate = 60000 / Number(row.rr_interval);
      const label = labels.get(row.study_id);
      if (label === 1) expect(rate).toBeLessThan(60);
      if (label === 2 || label === 6) expect(rate).toBeGreaterThan(100);
      if (label === 0 || label === 4 || label === 5) expect(rate).toBeGreaterThanOrEqual(59);
    }
  });

  it('has PR intervals that separate normal, borderline and first-degree block', () => {
    const labels = new Map(truth.rows.map((r) => [r.study_id, Number(r.report_label)]));
    for (const row of measurements.rows) {
      if (row.p_onset === '29999' || row.qrs_onset === '29999') continue;
      const pr = Number(row.qrs_onset) - Number(row.p_onset);
      const label = labels.get(row.study_id);
      if (label === 0) expect(pr).toBeLessThan(200);
      if (label === 4) expect(pr).toBeGreaterThanOrEqual(200);
      if (label === 4) expect(pr).toBeLessThanOrEqual(220);
      if (label === 5) expect(pr).toBeGreaterThan(220);
    }
  });

  it('has no P wave measurements in atrial fibrillation and pacing without atrial tracking', () => {
    const labels = new Map(truth.rows.map((r) => [r.study_id, Number(r.report_label)]));
    const fibrillation = measurements.rows.filter((r) => [3, 6].includes(labels.get(r.study_id)!));
    expect(fibrillation.length).toBeGreaterThan(0);
    for (const row of fibrillation)
      expect([row.p_onset, row.p_end, row.p_axis]).toEqual(['29999', '29999', '29999']);
  });
});
