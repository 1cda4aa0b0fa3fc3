import { STORED_INVALID, type StoredWaveform } from './tables.ts';
import { INVALID_SAMPLE } from './wfdb/formats.ts';
import {
  type DigitalSamples,
  findLead,
  mod65536,
  type SampleSummary,
  type WfdbRecord,
} from './wfdb/record.ts';

/** Why a decoded record is refused. `problem` values are the quarantine kinds documented in the README. */
export interface Refusal {
  problem: 'checksum-mismatch' | 'wrong-shape' | 'flat-lead' | 'invalid-lead' | 'unsupported';
  field: string;
  reason: string;
}

/** Millivolts per unit for the voltage units ECG headers use; anything else is not an ECG lead. */
export const MILLIVOLTS_PER_UNIT: Readonly<Record<string, number>> = {
  mV: 1,
  uV: 0.001,
  µV: 0.001,
  μV: 0.001,
  V: 1000,
};

/** Sampling frequencies an ECG is recorded at, from low-rate Holter (100 Hz or less) to high-resolution ECG. */
export const ECG_SAMPLING_FREQUENCY_HZ = { min: 50, max: 20_000 } as const;
/**
 * Gains (adu per millivolt) that keep an ECG's samples at plausible, finite millivolts: ECG recorders use
 * about 100 to 10,000; a 16-bit sample over a gain outside these bounds is no voltage an ECG lead measures.
 */
export const ECG_GAIN_ADU_PER_MV = { min: 0.01, max: 1e8 } as const;

export interface ShapeRules {
  /** Leads a record must have, matched by name (case-insensitive); empty accepts any leads. */
  requiredLeads: readonly string[];
}

/**
 * Checks a decoded record and converts it to the stored int16 form, or says why it is refused:
 * shape (leads, samples per frame, units) from the header, then, from one pass over each lead,
 * checksums, the 16-bit range, and flat or all-invalid leads.
 */
export function toStoredWaveform(
  record: WfdbRecord,
  ids: { studyId: number; subjectId: number },
  rules: ShapeRules,
): { ok: true; waveform: StoredWaveform } | { ok: false; refusal: Refusal } {
  const refuse = (problem: Refusal['problem'], field: string, reason: string) => ({
    ok: false as const,
    refusal: { problem, field, reason },
  });
  const { header } = record;
  if (record.sampleCount === 0) return refuse('wrong-shape', 'number of samples', 'record has no samples');
  const missing = rules.requiredLeads.filter((lead) => findLead(header, lead) < 0);
  if (missing.length > 0) {
    return refuse(
      'wrong-shape',
      'signal description',
      `missing lead(s) ${missing.join(', ')}; record has ${header.signals.map((s) => s.description).join(', ')}`,
    );
  }
  const frequency = header.samplingFrequency;
  if (!(frequency >= ECG_SAMPLING_FREQUENCY_HZ.min && frequency <= ECG_SAMPLING_FREQUENCY_HZ.max)) {
    return refuse(
      'wrong-shape',
      'sampling frequency',
      `${frequency} Hz is outside the ECG range ${ECG_SAMPLING_FREQUENCY_HZ.min}-${ECG_SAMPLING_FREQUENCY_HZ.max} Hz`,
    );
  }
  const leadName = (index: number) => header.signals[index]!.description || `signal ${index}`;
  for (const [index, spec] of header.signals.entries()) {
    if (spec.samplesPerFrame !== 1) {
      return refuse(
        'wrong-shape',
        `signal ${index} format`,
        `lead ${leadName(index)} has ${spec.samplesPerFrame} samples per frame`,
      );
    }
    const millivolts = MILLIVOLTS_PER_UNIT[spec.units];
    if (millivolts === undefined) {
      return refuse(
        'wrong-shape',
        `signal ${index} units`,
        `lead ${leadName(index)} is in ${spec.units}, not a voltage`,
      );
    }
    const aduPerMillivolt = spec.gain / millivolts;
    if (!(aduPerMillivolt >= ECG_GAIN_ADU_PER_MV.min && aduPerMillivolt <= ECG_GAIN_ADU_PER_MV.max)) {
      return refuse(
        'wrong-shape',
        `signal ${index} gain`,
        `lead ${leadName(index)} has gain ${spec.gain} adu/${spec.units}, outside ${ECG_GAIN_ADU_PER_MV.min}-${ECG_GAIN_ADU_PER_MV.max} adu/mV`,
      );
    }
  }

  const leads = header.signals.map((spec, index) => {
    const digital = record.digital[index]!;
    const summary = record.summaries?.[index];
    return summary !== undefined && digital instanceof Int16Array
      ? summarisedLead(digital, summary)
      : storeLead(digital, INVALID_SAMPLE[spec.format]);
  });
  for (const [index, spec] of header.signals.entries()) {
    const actual = leads[index]!.checksum;
    if (spec.checksum !== undefined && actual !== mod65536(spec.checksum)) {
      return refuse(
        'checksum-mismatch',
        `signal ${index} checksum`,
        `lead ${leadName(index)}: samples sum to ${actual} (mod 65536), header says ${mod65536(spec.checksum)}`,
      );
    }
  }
  for (const [index, lead] of leads.entries()) {
    if (lead.outOfRange !== undefined) {
      return refuse(
        'unsupported',
        `signal ${index} ADC resolution`,
        `lead ${leadName(index)} holds ${lead.outOfRange}, beyond 16 bits`,
      );
    }
    if (lead.valid === 0)
      return refuse('invalid-lead', `signal ${index}`, `lead ${leadName(index)} has no valid sample`);
    if (lead.flat) {
      return refuse(
        'flat-lead',
        `signal ${index}`,
        `lead ${leadName(index)} is flat (every sample is ${lead.first})`,
      );
    }
  }
  return {
    ok: true,
    waveform: {
      studyId: ids.studyId,
      subjectId: ids.subjectId,
      samplingRate: header.samplingFrequency,
      sampleCount: record.sampleCount,
      leadNames: header.signals.map((s) => s.description),
      units: header.signals.map((s) => s.units),
      gains: header.signals.map((s) => s.gain),
      baselines: header.signals.map((s) => s.baseline),
      digital: leads.map((lead) => lead.stored),
    },
  };
}

interface StoredLead {
  stored: Int16Array;
  checksum: number;
  valid: number;
  first: number;
  flat: boolean;
  outOfRange?: number;
}

/**
 * One pass over a lead: its checksum, valid-sample count, flatness, and its int16 form. Formats whose
 * invalid marker already is `STORED_INVALID` (16, 61, 160) are stored as decoded, without a copy.
 */
function storeLead(source: DigitalSamples, invalid: number | undefined): StoredLead {
  if (source instanceof Int16Array && invalid === STORED_INVALID) return inspectStoredLead(source);
  const stored = new Int16Array(source.length);
  let sum = 0;
  let valid = 0;
  let first = 0;
  let flat = true;
  let outOfRange: number | undefined;
  for (let i = 0; i < source.length; i++) {
    const value = source[i]!;
    sum = (sum + value) | 0;
    if (value === invalid) {
      stored[i] = STORED_INVALID;
      continue;
    }
    if (value <= STORED_INVALID || value > 32767) outOfRange ??= value;
    else stored[i] = value;
    if (valid === 0) first = value;
    else if (value !== first) flat = false;
    valid++;
  }
  return {
    stored,
    checksum: mod65536(sum),
    valid,
    first,
    flat,
    ...(outOfRange === undefined ? {} : { outOfRange }),
  };
}

/**
 * A lead in stored form the decoder already summed and counted: only flatness is left, and the scan
 * for a second distinct valid value almost always stops within a few samples.
 */
function summarisedLead(stored: Int16Array, summary: SampleSummary): StoredLead {
  let i = 0;
  while (i < stored.length && stored[i] === STORED_INVALID) i++;
  const first = i < stored.length ? stored[i]! : 0;
  while (i < stored.length && (stored[i] === first || stored[i] === STORED_INVALID)) i++;
  return {
    stored,
    checksum: summary.checksum,
    valid: stored.length - summary.invalid,
    first,
    flat: i === stored.length,
  };
}

/**
 * `storeLead` for a lead already in stored form (every MIMIC lead): nothing to copy and nothing can be
 * out of range, so the loop only sums, counts invalid samples and looks for a second distinct valid
 * value; once one is found the rest of the lead takes a loop with no flatness test. Measured 2x faster
 * than the general loop.
 */
function inspectStoredLead(stored: Int16Array): StoredLead {
  const length = stored.length;
  let i = 0;
  while (i < length && stored[i] === STORED_INVALID) i++;
  let invalid = i;
  let sum = i * STORED_INVALID;
  const first = i < length ? stored[i]! : 0;
  let flat = true;
  for (; i < length; i++) {
    const value = stored[i]!;
    sum = (sum + value) | 0;
    if (value === STORED_INVALID) invalid++;
    else if (value !== first) {
      flat = false;
      i++;
      break;
    }
  }
  for (; i < length; i++) {
    const value = stored[i]!;
    sum = (sum + value) | 0;
    invalid += value === STORED_INVALID ? 1 : 0;
  }
  return { stored, checksum: mod65536(sum), valid: length - invalid, first, flat };
}
