import { STORED_INVALID, type StoredWaveform } from './tables.ts';
import { INVALID_SAMPLE } from './wfdb/formats.ts';
import { checksumMismatches, findLead, type WfdbRecord } from './wfdb/record.ts';

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

export interface ShapeRules {
  /** Leads a record must have, matched by name (case-insensitive); empty accepts any leads. */
  requiredLeads: readonly string[];
}

/**
 * Checks a decoded record and converts it to the stored int16 form, or says why it is refused:
 * checksums, shape (leads, samples per frame, units), 16-bit range, then flat or all-invalid leads.
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
  const mismatch = checksumMismatches(record)[0];
  if (mismatch !== undefined) {
    return refuse(
      'checksum-mismatch',
      `signal ${mismatch.signal} checksum`,
      `lead ${mismatch.description || mismatch.signal}: samples sum to ${mismatch.actual} (mod 65536), ` +
        `header says ${mismatch.expected}`,
    );
  }
  if (record.sampleCount === 0) return refuse('wrong-shape', 'number of samples', 'record has no samples');
  const missing = rules.requiredLeads.filter((lead) => findLead(header, lead) < 0);
  if (missing.length > 0) {
    return refuse(
      'wrong-shape',
      'signal description',
      `missing lead(s) ${missing.join(', ')}; record has ${header.signals.map((s) => s.description).join(', ')}`,
    );
  }

  const digital: Int16Array[] = [];
  for (const [index, spec] of header.signals.entries()) {
    const lead = spec.description || `signal ${index}`;
    if (spec.samplesPerFrame !== 1) {
      return refuse(
        'wrong-shape',
        `signal ${index} format`,
        `lead ${lead} has ${spec.samplesPerFrame} samples per frame`,
      );
    }
    if (MILLIVOLTS_PER_UNIT[spec.units] === undefined) {
      return refuse(
        'wrong-shape',
        `signal ${index} units`,
        `lead ${lead} is in ${spec.units}, not a voltage`,
      );
    }
    const source = record.digital[index]!;
    const invalid = INVALID_SAMPLE[spec.format];
    const stored = new Int16Array(source.length);
    let valid = 0;
    let first = 0;
    let flat = true;
    for (let i = 0; i < source.length; i++) {
      const value = source[i]!;
      if (value === invalid) {
        stored[i] = STORED_INVALID;
        continue;
      }
      if (value <= STORED_INVALID || value > 32767) {
        return refuse(
          'unsupported',
          `signal ${index} ADC resolution`,
          `lead ${lead} holds ${value}, beyond 16 bits`,
        );
      }
      stored[i] = value;
      if (valid === 0) first = value;
      else if (value !== first) flat = false;
      valid++;
    }
    if (valid === 0) return refuse('invalid-lead', `signal ${index}`, `lead ${lead} has no valid sample`);
    if (flat)
      return refuse('flat-lead', `signal ${index}`, `lead ${lead} is flat (every sample is ${first})`);
    digital.push(stored);
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
      digital,
    },
  };
}
