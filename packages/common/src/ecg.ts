/** One ECG as every stage after ingest sees it: physical values per lead, leads addressed by name. */
export interface EcgRecord {
  studyId: number;
  subjectId: number;
  /** Samples per second, e.g. 500. */
  samplingRate: number;
  /** Lead names in stored order, e.g. I, II, III, aVR, aVF, aVL, V1..V6 for MIMIC-IV-ECG. */
  leadNames: string[];
  /** One array per lead, in millivolts (NaN where the sample was invalid). */
  signals: Float32Array[];
}

/** The 12 standard leads in the order most ECG models expect (aVL before aVF, unlike MIMIC storage). */
export const STANDARD_LEADS = [
  'I',
  'II',
  'III',
  'aVR',
  'aVL',
  'aVF',
  'V1',
  'V2',
  'V3',
  'V4',
  'V5',
  'V6',
] as const;
export type LeadName = (typeof STANDARD_LEADS)[number];

/** The order MIMIC-IV-ECG stores its 12 leads in (aVF before aVL): the order of the WFDB signals. */
export const MIMIC_LEAD_ORDER = [
  'I',
  'II',
  'III',
  'aVR',
  'aVF',
  'aVL',
  'V1',
  'V2',
  'V3',
  'V4',
  'V5',
  'V6',
] as const satisfies readonly LeadName[];
