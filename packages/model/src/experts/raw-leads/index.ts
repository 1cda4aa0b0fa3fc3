import { ConfigError } from '@enecg/common';
import { preprocessingHash, preprocessRecord } from '../../preprocess/index.ts';
import { preprocessPart, resolveExpertConfig } from '../config.ts';
import type { Expert, ExpertFactory, ExpertOptions } from '../types.ts';

/** Lead II at 5000 samples, z-scored over the whole record: the reference method's gate input. */
export const RAW_LEADS_DEFAULTS = { leads: ['II'], length: 5000, normalization: 'record' };

function resolveRawLeadsConfig(given: Record<string, unknown> | undefined) {
  return preprocessPart('raw-leads', resolveExpertConfig('raw-leads', given, RAW_LEADS_DEFAULTS));
}

/**
 * A pseudo-expert without weights: the preprocessed selected leads, concatenated lead after lead. It is
 * cached like any expert so that the Mixture-of-Experts gate reads its input from the same feature store.
 */
export const rawLeadsExpert: ExpertFactory = {
  name: 'raw-leads',
  description: 'preprocessed selected leads as the embedding (MoE gate input); default lead II, 5000 samples',
  validateConfig(config) {
    resolveRawLeadsConfig(config);
  },
  async create(options: ExpertOptions): Promise<Expert> {
    if (options.weightsPath !== undefined) {
      throw new ConfigError('raw-leads has no weights; leave --weights out', 'weights');
    }
    const preprocess = resolveRawLeadsConfig(options.config);
    return {
      name: 'raw-leads',
      embeddingSize: preprocess.leads.length * preprocess.length,
      weightsId: 'none',
      preprocessingHash: preprocessingHash(preprocess, { expert: 'raw-leads' }),
      async embed(batch) {
        return batch.map((record) => preprocessRecord(record, preprocess));
      },
      dispose() {},
    };
  },
};
