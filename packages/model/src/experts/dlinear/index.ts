import { ConfigError } from '@enecg/common';
import { preprocessingHash, preprocessRecord } from '../../preprocess/index.ts';
import { openWeights } from '../../safetensors/index.ts';
import { preprocessPart, requireInteger, resolveExpertConfig } from '../config.ts';
import type { Expert, ExpertFactory, ExpertOptions } from '../types.ts';
import { DLinearModel } from './model.ts';

/** The reference method's DLinear input: lead II, z-scored over the record, resampled to 500 samples. */
export const DLINEAR_DEFAULTS = {
  leads: ['II'],
  length: 500,
  normalization: 'record',
  movingAvg: 25,
  individual: false,
};

export function resolveDlinearConfig(given: Record<string, unknown> | undefined) {
  const config = resolveExpertConfig('dlinear', given, DLINEAR_DEFAULTS);
  const preprocess = preprocessPart('dlinear', config);
  const movingAvg = requireInteger(config.movingAvg, 'dlinear.movingAvg', 1, preprocess.length);
  if (movingAvg % 2 === 0)
    throw new ConfigError('must be odd (TSLib pads (k-1)/2 on both sides)', 'dlinear.movingAvg');
  return { config, preprocess, movingAvg };
}

export const dlinearExpert: ExpertFactory = {
  name: 'dlinear',
  description:
    'DLinear (Time-Series-Library): decomposition + linear maps; embedding = flattened encoder output',
  validateConfig(config) {
    resolveDlinearConfig(config);
  },
  async create(options: ExpertOptions): Promise<Expert> {
    const { config, preprocess, movingAvg } = resolveDlinearConfig(options.config);
    const weights = await openWeights(options.weightsPath, options.seed);
    const model = DLinearModel.load(weights, {
      seqLen: preprocess.length,
      channels: preprocess.leads.length,
      movingAvg,
      individual: config.individual,
    });
    return {
      name: 'dlinear',
      embeddingSize: model.embeddingSize,
      weightsId: weights.weightsId,
      preprocessingHash: preprocessingHash(preprocess, {
        expert: 'dlinear',
        movingAvg,
        individual: config.individual,
      }),
      async embed(batch) {
        return model.forward(batch.map((record) => preprocessRecord(record, preprocess)));
      },
      dispose: () => model.dispose(),
    };
  },
};
