import { MIMIC_LEAD_ORDER } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { drawSubjectTraits, type EcgPlan, type SynthesizedEcg, synthesizeEcg } from '../src/physiology.ts';
import { Rng } from '../src/random.ts';

const FS = 500;

function lead(ecg: SynthesizedEcg, name: (typeof MIMIC_LEAD_ORDER)[number]): Float64Array {
  const index = MIMIC_LEAD_ORDER.indexOf(name);
  const out = new Float64Array(5000);
  for (let i = 0; i < 5000; i++) out[i] = ecg.samples[i * 12 + index]! / 200;
  return out;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Mean height of the largest deflection 150-450 ms after each R peak, above the PR baseline. */
function tWaveHeight(ecg: SynthesizedEcg, name: (typeof MIMIC_LEAD_ORDER)[number]): number {
  const signal = lead(ecg, name);
  const heights: number[] = [];
  for (const r of ecg.rPeaks) {
    const at = Math.round(r * FS);
    if (at - 60 < 0 || at + 225 >= 5000) continue;
    const baseline = signal[at - 60]!;
    let peak = 0;
    for (let i = at + 75; i < at + 225; i++) peak = Math.max(peak, signal[i]! - baseline);
    heights.push(peak);
  }
  return mean(heights);
}

function rrVariation(ecg: SynthesizedEcg): number {
  const rr = ecg.rPeaks.slice(1).map((t, i) => t - ecg.rPeaks[i]!);
  const m = mean(rr);
  return Math.sqrt(mean(rr.map((v) => (v - m) ** 2))) / m;
}

function plan(overrides: Partial<EcgPlan> & { seed: number; female?: boolean }): EcgPlan {
  const traits = drawSubjectTraits(new Rng(overrides.seed, 99), overrides.female ?? false);
  return { arrhythmiaClass: 0, ageYears: 55, potassium: 4.2, traits, ...overrides };
}

describe('the beat model', { timeout: 60_000 }, () => {
  it('raises T waves with potassium: flat when low, peaked when high', () => {
    const heights = { low: [] as number[], normal: [] as number[], high: [] as number[] };
    for (let seed = 0; seed < 12; seed++) {
      for (const [key, potassium] of [
        ['low', 2.8],
        ['normal', 4.2],
        ['high', 6.8],
      ] as const) {
        heights[key].push(tWaveHeight(synthesizeEcg(new Rng(seed), plan({ seed, potassium })), 'V3'));
      }
    }
    expect(mean(heights.low)).toBeLessThan(0.6 * mean(heights.normal));
    expect(mean(heights.high)).toBeGreaterThan(1.5 * mean(heights.normal));
  });

  it('makes atrial fibrillation irregular and sinus rhythm regular', () => {
    for (let seed = 0; seed < 8; seed++) {
      expect(rrVariation(synthesizeEcg(new Rng(seed), plan({ seed, arrhythmiaClass: 3 })))).toBeGreaterThan(
        0.1,
      );
      expect(rrVariation(synthesizeEcg(new Rng(seed), plan({ seed, arrhythmiaClass: 0 })))).toBeLessThan(
        0.05,
      );
    }
  });

  it('lets heart-rate variability shrink with age', () => {
    const young: number[] = [];
    const old: number[] = [];
    for (let seed = 0; seed < 30; seed++) {
      young.push(rrVariation(synthesizeEcg(new Rng(seed), plan({ seed, ageYears: 25 }))));
      old.push(rrVariation(synthesizeEcg(new Rng(seed), plan({ seed, ageYears: 85 }))));
    }
    expect(mean(old)).toBeLessThan(0.8 * mean(young));
  });

  it('gives women lower QRS voltages on average, with overlap between individuals', () => {
    const amplitude = (ecg: SynthesizedEcg): number => {
      const v5 = lead(ecg, 'V5');
      return Math.max(...v5) - Math.min(...v5);
    };
    const women: number[] = [];
    const men: number[] = [];
    for (let seed = 0; seed < 40; seed++) {
      women.push(amplitude(synthesizeEcg(new Rng(seed), plan({ seed, female: true }))));
      men.push(amplitude(synthesizeEcg(new Rng(seed + 1000), plan({ seed: seed + 1000 }))));
    }
    expect(mean(women)).toBeLessThan(mean(men));
    expect(Math.max(...women)).toBeGreaterThan(Math.min(...men));
  });

  it('draws pacing spikes before wide ventricular complexes', () => {
    const ecg = synthesizeEcg(new Rng(4), plan({ seed: 4, arrhythmiaClass: 9 }));
    const lead2 = lead(ecg, 'II');
    let steepest = 0;
    for (let i = 1; i < 5000; i++) steepest = Math.max(steepest, Math.abs(lead2[i]! - lead2[i - 1]!));
    const sinus = lead(synthesizeEcg(new Rng(4), plan({ seed: 4 })), 'II');
    let sinusSteepest = 0;
    for (let i = 1; i < 5000; i++)
      sinusSteepest = Math.max(sinusSteepest, Math.abs(sinus[i]! - sinus[i - 1]!));
    expect(steepest).toBeGreaterThan(2 * sinusSteepest);
    expect(ecg.measurements.qrsEndMs - ecg.measurements.qrsOnsetMs).toBeGreaterThanOrEqual(140);
  });

  it('moves the P axis away from the sinus direction in ectopic atrial rhythm', () => {
    for (let seed = 0; seed < 10; seed++) {
      const ectopic = synthesizeEcg(new Rng(seed), plan({ seed, arrhythmiaClass: 13 }));
      const axis = ectopic.measurements.pAxisDeg!;
      expect(axis < 0 || axis > 120).toBe(true);
      const sinus = synthesizeEcg(new Rng(seed), plan({ seed }));
      expect(sinus.measurements.pAxisDeg!).toBeGreaterThan(0);
      expect(sinus.measurements.pAxisDeg!).toBeLessThan(100);
    }
  });
});
