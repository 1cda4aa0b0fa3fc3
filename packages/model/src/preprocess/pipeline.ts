import type { EcgRecord } from '@enecg/common';
import { ConfigError, hashObject, InputError } from '@enecg/common';
import { finiteOrZero, zScoreJointly, zScorePerLead } from './normalize.ts';
import { resampleFourier } from './resample.ts';

/**
 * How a record becomes an expert's input. Order of operations follows the reference method:
 * z-score (over the whole record, or per lead), then select leads by name, then FFT-resample each lead.
 */
export interface PreprocessConfig {
  /** Lead names in the order the expert expects, e.g. ['II'] or the 12 standard leads. */
  leads: string[];
  /** Samples per lead after resampling (the whole record is resampled, whatever its duration). */
  length: number;
  /** `record`: one mean/std over all of the record's leads; `lead`: per selected lead; `none`: raw mV. */
  normalization: 'record' | 'lead' | 'none';
}

export const NORMALIZATIONS = ['record', 'lead', 'none'] as const;

export function validatePreprocessConfig(
  config: PreprocessConfig,
  keyPrefix = 'preprocess',
): PreprocessConfig {
  if (
    !Array.isArray(config.leads) ||
    config.leads.length === 0 ||
    config.leads.some((l) => typeof l !== 'string')
  ) {
    throw new ConfigError('must be a non-empty list of lead names', `${keyPrefix}.leads`);
  }
  if (new Set(config.leads).size !== config.leads.length) {
    throw new ConfigError(`repeats a lead: ${config.leads.join(', ')}`, `${keyPrefix}.leads`);
  }
  if (!Number.isInteger(config.length) || config.length < 8 || config.length > 100_000) {
    throw new ConfigError(`${config.length} is not an integer in 8..100000`, `${keyPrefix}.length`);
  }
  if (!NORMALIZATIONS.includes(config.normalization)) {
    throw new ConfigError(`must be one of ${NORMALIZATIONS.join(', ')}`, `${keyPrefix}.normalization`);
  }
  return { leads: [...config.leads], length: config.length, normalization: config.normalization };
}

/** A version string bumped whenever preprocessing numerics change, so old caches are not reused. */
export const PREPROCESSING_VERSION = 'prep-v1';

export function preprocessingHash(config: PreprocessConfig, extra: Record<string, unknown> = {}): string {
  return hashObject({ version: PREPROCESSING_VERSION, ...config, extra });
}

/** Finds a lead by name: exact match first, then case-insensitive (`avr` for `aVR`). */
export function leadIndex(record: EcgRecord, name: string): number {
  let index = record.leadNames.indexOf(name);
  if (index < 0) {
    const lower = name.toLowerCase();
    index = record.leadNames.findIndex((n) => n.toLowerCase() === lower);
  }
  if (index < 0) {
    throw new InputError(`lead ${name} is missing (record has ${record.leadNames.join(', ')})`, {
      file: 'waveforms',
      record: String(record.studyId),
      field: `lead ${name}`,
    });
  }
  return index;
}

/** The expert input of one record: Float32Array [leads x length], lead-major. */
export function preprocessRecord(record: EcgRecord, config: PreprocessConfig): Float32Array {
  if (record.signals.length !== record.leadNames.length) {
    throw new InputError(`${record.signals.length} signals for ${record.leadNames.length} lead names`, {
      file: 'waveforms',
      record: String(record.studyId),
      field: 'signals',
    });
  }
  const selected = config.leads.map((name) => leadIndex(record, name));
  let leads: Float64Array[];
  if (config.normalization === 'record') {
    leads = zScoreJointly(record.signals, selected);
  } else {
    const raw = selected.map((i) => record.signals[i]!);
    leads = config.normalization === 'lead' ? zScorePerLead(raw) : finiteOrZero(raw);
  }
  const out = new Float32Array(config.leads.length * config.length);
  leads.forEach((lead, c) => {
    if (lead.length === 0) {
      throw new InputError('lead has no samples', {
        file: 'waveforms',
        record: String(record.studyId),
        field: `lead ${config.leads[c]}`,
      });
    }
    const resampled = lead.length === config.length ? lead : resampleFourier(lead, config.length);
    out.set(resampled, c * config.length);
  });
  return out;
}
