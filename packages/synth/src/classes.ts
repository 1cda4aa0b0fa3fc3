import { ARRHYTHMIA_CLASS_NAMES, OTHER_ARRHYTHMIA_CLASS } from '@enecg/common';

export const CLASS_COUNT = ARRHYTHMIA_CLASS_NAMES.length;
export const OTHER_CLASS = OTHER_ARRHYTHMIA_CLASS;
export const ST_ELEVATION_CLASS = 10;
export const DATA_QUALITY_CLASS = 11;

/**
 * The exact machine statement written for classes 0..13 of ARRHYTHMIA_CLASS_NAMES, as it appears in
 * machine_measurements.csv (class 14 uses one of OTHER_RHYTHMS).
 */
export const CLASS_STATEMENTS: readonly string[] = [
  'Sinus rhythm',
  'Sinus bradycardia',
  'Sinus tachycardia',
  'Atrial fibrillation',
  'Sinus rhythm with borderline 1st degree A-V block',
  'Sinus rhythm with 1st degree A-V block',
  'Atrial fibrillation with rapid ventricular response',
  'Sinus arrhythmia',
  'Sinus rhythm with PAC(s)',
  'Ventricular pacing',
  'Consider acute ST elevation MI ***',
  'Warning: data quality may affect interpretation',
  'Sinus rhythm with PVC(s)',
  'Possible ectopic atrial rhythm',
];

/** Rhythms of class 14, each simulated by its own beat schedule. */
export const OTHER_RHYTHMS = {
  junctional: 'Junctional rhythm',
  flutter: 'Atrial flutter with 2:1 A-V conduction',
  flutterVariable: 'Atrial flutter with variable A-V block',
  wenckebach: 'Sinus rhythm with 2nd degree A-V block, Mobitz I (Wenckebach)',
  mobitz2: 'Sinus rhythm with 2nd degree A-V block, Mobitz II',
} as const;
export type OtherRhythm = keyof typeof OTHER_RHYTHMS;
export const OTHER_RHYTHM_KINDS = Object.keys(OTHER_RHYTHMS) as OtherRhythm[];

/**
 * Default class frequencies, roughly the imbalance of the machine statements in MIMIC-IV-ECG:
 * sinus rhythm dominates, ST elevation MI is rare.
 */
export const DEFAULT_CLASS_WEIGHTS: readonly number[] = [
  0.36, 0.11, 0.1, 0.07, 0.03, 0.035, 0.035, 0.03, 0.03, 0.025, 0.015, 0.03, 0.035, 0.02, 0.055,
];
