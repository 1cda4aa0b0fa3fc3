import { readFileSync } from 'node:fs';
import type { EcgRecord } from '@enecg/common';
import { InputError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import {
  fft,
  preprocessRecord,
  resampleFourier,
  rfft,
  stl,
  zScoreJointly,
  zScorePerLead,
} from '../src/preprocess/index.ts';

interface Fixtures {
  ecg_like: number[];
  resample: Array<{ input: number[] | 'ecg_like'; length: number; output: number[] }>;
  stl: Array<{
    name: string;
    options: { period: number; robust?: boolean };
    input: number[];
    trend: number[];
    seasonal: number[];
    residual: number[];
  }>;
}

const fixtures: Fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/preprocess.json', import.meta.url), 'utf8'),
);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('fft', () => {
  it('matches a direct DFT for radix-2 and Bluestein lengths', () => {
    for (const n of [1, 2, 8, 5, 12, 336, 500, 5000, 1009, 2 * 17 * 19]) {
      const re = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) + i / n);
      const im = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 1.3));
      const got = fft({ re, im });
      for (const k of [0, Math.floor(n / 3), n - 1]) {
        let sr = 0;
        let si = 0;
        for (let t = 0; t < n; t++) {
          const a = (-2 * Math.PI * k * t) / n;
          sr += re[t]! * Math.cos(a) - im[t]! * Math.sin(a);
          si += re[t]! * Math.sin(a) + im[t]! * Math.cos(a);
        }
        expect(Math.abs(got.re[k]! - sr)).toBeLessThan(1e-10 * n);
        expect(Math.abs(got.im[k]! - si)).toBeLessThan(1e-10 * n);
      }
    }
  });
});

describe('rfft', () => {
  it('equals the first half of the complex transform for even and odd lengths', () => {
    for (const n of [4, 7, 500, 5000, 336]) {
      const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + ((i * 7) % 5));
      const half = rfft(x);
      const full = fft({ re: x, im: new Float64Array(n) });
      expect(half.re.length).toBe(Math.floor(n / 2) + 1);
      for (let k = 0; k < half.re.length; k++) {
        expect(Math.abs(half.re[k]! - full.re[k]!)).toBeLessThan(1e-9);
        expect(Math.abs(half.im[k]! - full.im[k]!)).toBeLessThan(1e-9);
      }
    }
  });
});

describe('resampleFourier equals scipy.signal.resample', () => {
  for (const c of fixtures.resample) {
    const input = c.input === 'ecg_like' ? fixtures.ecg_like : c.input;
    it(`${input.length} -> ${c.length}`, () => {
      expect(maxAbsDiff(resampleFourier(input, c.length), c.output)).toBeLessThan(1e-9);
    });
  }
});

describe('stl equals statsmodels STL', () => {
  for (const c of fixtures.stl) {
    it(c.name, () => {
      const got = stl(c.input, c.options);
      expect(maxAbsDiff(got.trend, c.trend)).toBeLessThan(1e-9);
      expect(maxAbsDiff(got.seasonal, c.seasonal)).toBeLessThan(1e-9);
      expect(maxAbsDiff(got.residual, c.residual)).toBeLessThan(1e-9);
    });
  }
});

describe('z-score and record preprocessing', () => {
  const record: EcgRecord = {
    studyId: 40000001,
    subjectId: 10000001,
    samplingRate: 500,
    leadNames: ['I', 'II', 'aVF', 'aVL'],
    signals: [
      Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i / 50)),
      Float32Array.from({ length: 5000 }, (_, i) => 2 * Math.cos(i / 30) + 1),
      new Float32Array(5000).fill(0.5),
      Float32Array.from({ length: 5000 }, (_, i) => (i === 7 ? Number.NaN : i / 5000)),
    ],
  };

  it('per-lead z-score has zero mean and unit deviation; flat leads become zeros', () => {
    const [a, , flat] = zScorePerLead(record.signals);
    const mean = a!.reduce((s, v) => s + v, 0) / a!.length;
    const variance = a!.reduce((s, v) => s + (v - mean) ** 2, 0) / a!.length;
    expect(Math.abs(mean)).toBeLessThan(1e-12);
    expect(Math.abs(variance - 1)).toBeLessThan(1e-9);
    expect(flat!.every((v) => v === 0)).toBe(true);
  });

  it('record z-score uses one mean for all leads and maps NaN to 0', () => {
    const leads = zScoreJointly(record.signals);
    const all = leads.flatMap((l) => [...l]);
    expect(Math.abs(all.reduce((s, v) => s + v, 0) / all.length)).toBeLessThan(1e-3);
    expect(leads[3]![7]).toBe(0);
  });

  it('selects leads by name in the requested order and resamples each', () => {
    const out = preprocessRecord(record, { leads: ['aVL', 'II'], length: 500, normalization: 'lead' });
    expect(out.length).toBe(1000);
    const ii = resampleFourier(zScorePerLead([record.signals[1]!])[0]!, 500);
    expect(maxAbsDiff(out.subarray(500), ii)).toBeLessThan(1e-6);
  });

  it('refuses a missing lead, naming the record and lead', () => {
    expect(() => preprocessRecord(record, { leads: ['V1'], length: 500, normalization: 'record' })).toThrow(
      InputError,
    );
    expect(() => preprocessRecord(record, { leads: ['V1'], length: 500, normalization: 'record' })).toThrow(
      /record 40000001, field lead V1/,
    );
  });
});
