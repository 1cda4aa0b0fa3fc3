import { MIMIC_LEAD_ORDER } from '@enecg/common';

/** The fixed shape of a MIMIC-IV-ECG diagnostic ECG. */
export const SAMPLING_RATE = 500;
export const SAMPLES_PER_LEAD = 5000;
export const DURATION_S = SAMPLES_PER_LEAD / SAMPLING_RATE;
export const LEAD_COUNT = MIMIC_LEAD_ORDER.length;
/** Analog-to-digital units per millivolt of the MIMIC-IV-ECG records. */
export const ADC_GAIN = 200;
/** The value a measurement field holds when the machine could not measure it. */
export const MISSING_MEASUREMENT = 29999;
