import { ConfigError, hashObject, STANDARD_LEADS } from '@enecg/common';
import { resolveExpertConfig } from '../config.ts';
import type { Expert, ExpertFactory, ExpertOptions } from '../types.ts';
import { featureSpecs, toEmbedding } from './features.ts';
import { measureRecord } from './measure.ts';

export type { FeatureSpec } from './features.ts';
export { featureSpecs } from './features.ts';
export type { Measurements, RecordAnalysis } from './measure.ts';
export { analyseRecord, measureRecord } from './measure.ts';

/**
 * Bumped whenever a change to detection, delineation or the feature list alters an embedding, so the
 * feature cache keys the new values apart from the old.
 */
const MEASUREMENTS_VERSION = 1;

/** Leads whose amplitudes enter the embedding (beats are detected on every lead the record has). */
export const MEASUREMENTS_DEFAULTS = { leads: [...STANDARD_LEADS] as string[] };

function resolveMeasurementsConfig(given: Record<string, unknown> | undefined) {
  const config = resolveExpertConfig('measurements', given, MEASUREMENTS_DEFAULTS);
  if (config.leads.length === 0 || !config.leads.every((lead) => typeof lead === 'string' && lead !== '')) {
    throw new ConfigError('expected a non-empty list of lead names', 'measurements.leads');
  }
  if (new Set(config.leads).size !== config.leads.length) {
    throw new ConfigError('a lead is listed twice', 'measurements.leads');
  }
  return config;
}

/**
 * Classical ECG measurements as an expert without weights: Pan-Tompkins QRS detection on every lead,
 * a multi-lead consensus, a median beat and its delineation, then rhythm, interval, wave, axis,
 * per-lead amplitude and noise features (features.ts names and documents each one).
 */
export const measurementsExpert: ExpertFactory = {
  name: 'measurements',
  description:
    'classical delineation (Pan-Tompkins on every lead, consensus, median beat): RR, PR, QRS, QT/QTc, axes, amplitudes, noise; no weights',
  validateConfig(config) {
    resolveMeasurementsConfig(config);
  },
  async create(options: ExpertOptions): Promise<Expert> {
    if (options.weightsPath !== undefined) {
      throw new ConfigError('measurements has no weights; leave weights out', 'weights');
    }
    const config = resolveMeasurementsConfig(options.config);
    const specs = featureSpecs(config.leads);
    return {
      name: 'measurements',
      embeddingSize: specs.length,
      weightsId: 'none',
      preprocessingHash: hashObject({
        expert: 'measurements',
        version: MEASUREMENTS_VERSION,
        leads: config.leads,
      }),
      featureNames: specs.map((spec) => spec.name),
      async embed(batch) {
        return batch.map((record) => toEmbedding(measureRecord(record, config.leads), specs));
      },
      dispose() {},
    };
  },
};
