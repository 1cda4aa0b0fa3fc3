/**
 * The 15 arrhythmia classes of the EnECG paper, indexed by class id (report_label): the 14 most frequent
 * machine statements of MIMIC-IV-ECG, lower-cased, and `other`.
 */
export const ARRHYTHMIA_CLASS_NAMES = [
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

/** The class id of `other`: every report whose statements match none of classes 0..13. */
export const OTHER_ARRHYTHMIA_CLASS = ARRHYTHMIA_CLASS_NAMES.indexOf('other');
