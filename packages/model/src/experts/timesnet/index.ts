import { ConfigError } from '@enecg/common';
import { preprocessingHash, preprocessRecord } from '../../preprocess/index.ts';
import { openWeights } from '../../safetensors/index.ts';
import { preprocessPart, requireInteger, resolveExpertConfig } from '../config.ts';
import type { Expert, ExpertFactory, ExpertOptions } from '../types.ts';
import { TimesNetModel } from './model.ts';

/**
 * Lead II at 500 samples as in the reference method; sizes from TSLib's classification scripts
 * (d_model 16, d_ff 32, top_k 3, e_layers 2) with run.py's num_kernels 6.
 */
export const TIMESNET_DEFAULTS = {
  leads: ['II'],
  length: 500,
  normalization: 'record',
  dModel: 16,
  dFf: 32,
  eLayers: 2,
  topK: 3,
  numKernels: 6,
  embedding: 'flatten',
};

export function resolveTimesnetConfig(given: Record<string, unknown> | undefined) {
  const config = resolveExpertConfig('timesnet', given, TIMESNET_DEFAULTS);
  const preprocess = preprocessPart('timesnet', config);
  if (preprocess.length > 5000) throw new ConfigError('TimesNet positions stop at 5000', 'timesnet.length');
  const dModel = requireInteger(config.dModel, 'timesnet.dModel', 2, 4096);
  if (dModel % 2 !== 0) throw new ConfigError('must be even (sin/cos position pairs)', 'timesnet.dModel');
  if (config.embedding !== 'flatten' && config.embedding !== 'time-mean') {
    throw new ConfigError('must be flatten or time-mean', 'timesnet.embedding');
  }
  const modelConfig = {
    seqLen: preprocess.length,
    channels: preprocess.leads.length,
    dModel,
    dFf: requireInteger(config.dFf, 'timesnet.dFf', 1, 16384),
    eLayers: requireInteger(config.eLayers, 'timesnet.eLayers', 1, 64),
    topK: requireInteger(config.topK, 'timesnet.topK', 1, Math.floor(preprocess.length / 2)),
    numKernels: requireInteger(config.numKernels, 'timesnet.numKernels', 1, 16),
    embedding: config.embedding as 'flatten' | 'time-mean',
  };
  return { preprocess, modelConfig };
}

export const timesnetExpert: ExpertFactory = {
  name: 'timesnet',
  description:
    'TimesNet (Time-Series-Library), periods chosen per record; embedding = gelu(encoder output) flattened',
  validateConfig(config) {
    resolveTimesnetConfig(config);
  },
  async create(options: ExpertOptions): Promise<Expert> {
    const { preprocess, modelConfig } = resolveTimesnetConfig(options.config);
    const weights = await openWeights(options.weightsPath, options.seed);
    const model = TimesNetModel.load(weights, modelConfig);
    return {
      name: 'timesnet',
      embeddingSize: model.embeddingSize,
      weightsId: weights.weightsId,
      preprocessingHash: preprocessingHash(preprocess, { expert: 'timesnet', ...modelConfig }),
      async embed(batch) {
        return model.forward(batch.map((record) => preprocessRecord(record, preprocess)));
      },
      dispose: () => model.dispose(),
    };
  },
};
