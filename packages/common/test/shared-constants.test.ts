import { describe, expect, it } from 'vitest';
import {
  ARRHYTHMIA_CLASS_NAMES,
  MIMIC_LEAD_ORDER,
  mulberry32,
  OTHER_ARRHYTHMIA_CLASS,
  STANDARD_LEADS,
} from '../src/index.ts';

describe('mulberry32', () => {
  it('gives the reference mulberry32 stream for a seed', () => {
    const random = mulberry32(42);
    expect([random(), random(), random()]).toEqual([
      0.6011037519201636, 0.44829055899754167, 0.8524657934904099,
    ]);
    expect(mulberry32(0)()).toBe(0.26642920868471265);
  });

  it('repeats a stream for the same seed and stays in [0, 1)', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const draws = Array.from({ length: 10_000 }, () => a());
    expect(draws).toEqual(Array.from({ length: 10_000 }, () => b()));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const mean = draws.reduce((sum, x) => sum + x, 0) / draws.length;
    expect(mean).toBeCloseTo(0.5, 1);
  });

  it('treats a seed as an unsigned 32-bit integer', () => {
    expect(mulberry32(-1)()).toBe(mulberry32(0xffffffff)());
  });
});

describe('lead orders', () => {
  it('stores MIMIC leads as the standard 12 with aVF before aVL', () => {
    expect([...MIMIC_LEAD_ORDER].sort()).toEqual([...STANDARD_LEADS].sort());
    expect(MIMIC_LEAD_ORDER.indexOf('aVF')).toBe(4);
    expect(MIMIC_LEAD_ORDER.indexOf('aVL')).toBe(5);
    expect(STANDARD_LEADS.indexOf('aVL')).toBe(4);
  });
});

describe('arrhythmia classes', () => {
  it('names 15 distinct classes with other last', () => {
    expect(ARRHYTHMIA_CLASS_NAMES).toHaveLength(15);
    expect(new Set(ARRHYTHMIA_CLASS_NAMES).size).toBe(15);
    expect(OTHER_ARRHYTHMIA_CLASS).toBe(14);
    expect(ARRHYTHMIA_CLASS_NAMES[0]).toBe('sinus rhythm');
  });
});
