/**
 * The 15 arrhythmia classes of the mission (14 frequent machine statements + other), each with the
 * machine statement wording that names it in machine_measurements.csv.
 */
export const ARRHYTHMIA_CLASSES = [
  'sinus rhythm',
  'sinus bradycardia',
  'sinus tachycardia',
  'atrial fibrillation',
  'sinus rhythm with borderline 1st degree A-V block',
  'sinus rhythm with 1st degree A-V block',
  'atrial fibrillation with rapid ventricular response',
  'sinus arrhythmia',
  'sinus rhythm with PAC(s)',
  'ventricular pacing',
  'consider acute ST elevation MI ***',
  'warning: data quality may affect interpretation',
  'sinus rhythm with PVC(s)',
  'possible ectopic atrial rhythm',
  'other',
] as const;

export const CLASS_COUNT = ARRHYTHMIA_CLASSES.length;
export const OTHER_CLASS = 14;
export const ST_ELEVATION_CLASS = 10;
export const DATA_QUALITY_CLASS = 11;

/** The exact statement written for classes 0..13 (class 14 uses one of OTHER_RHYTHM_STATEMENTS). */
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
