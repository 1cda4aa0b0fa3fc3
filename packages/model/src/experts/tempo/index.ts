import { ConfigError } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { positiveBatch, resolveSizedExpert } from '../layers/config.ts';
import { createBackboneExpert } from '../layers/expert.ts';
import { concat } from '../layers/tensors.ts';
import type { ExpertFactory } from '../types.ts';
import { prepareTempo, TEMPO_PRESETS, tempoForward, tempoWeightSpecs } from './model.ts';

/**
 * One lead (II) resampled to TEMPO's 336 samples, as the reference method feeds it. `output` chooses the
 * reference's 96-step forecast or the mean last hidden state of the series tokens (dModel values).
 */
export const TEMPO_DEFAULTS = {
  size: 'tiny',
  model: {} as Record<string, unknown>,
  leads: ['II'],
  length: 336,
  normalization: 'record',
  output: 'forecast',
  batchSize: 16,
};

const OUTPUTS = ['forecast', 'hidden'] as const;

function resolveTempoConfig(given: Record<string, unknown> | undefined) {
  const { settings, model, preprocess } = resolveSizedExpert('tempo', given, TEMPO_DEFAULTS, TEMPO_PRESETS);
  if (preprocess.leads.length !== 1) throw new ConfigError('TEMPO reads exactly one lead', 'tempo.leads');
  if (preprocess.length !== model.seqLen) {
    throw new ConfigError(`must equal the model's seqLen ${model.seqLen}`, 'tempo.length');
  }
  if (!(OUTPUTS as readonly string[]).includes(settings.output)) {
    throw new ConfigError(`must be one of ${OUTPUTS.join(', ')}`, 'tempo.output');
  }
  const prompts = [model.promptTrend, model.promptSeason, model.promptResidual];
  if (
    prompts.some(
      (ids) =>
        ids.length !== model.promptTrend.length || ids.some((id) => !(id >= 0 && id < model.vocabSize)),
    )
  ) {
    throw new ConfigError('prompt token ids must be equally long and inside the vocabulary', 'tempo.model');
  }
  const hidden = settings.output === 'hidden';
  const batchSize = positiveBatch(settings.batchSize, 'tempo');
  return { settings, model, preprocess, hidden, batchSize };
}

export const tempoExpert: ExpertFactory = {
  name: 'tempo',
  description:
    'TEMPO (decomposition + prompted GPT-2 with merged LoRA) on one lead; forecast or hidden-state mean',
  validateConfig(config) {
    resolveTempoConfig(config);
  },
  async create(options) {
    const { settings, model, preprocess, hidden, batchSize } = resolveTempoConfig(options.config);
    return createBackboneExpert(options, {
      name: 'tempo',
      specs: tempoWeightSpecs(model),
      prepare: (weights, source) => prepareTempo(weights, model, source),
      embeddingSize: hidden ? model.dModel : model.predLen,
      preprocess,
      settings: { model, output: settings.output },
      batchSize,
      forward: (params, inputs) =>
        tf.tidy(() => {
          const x = tf.tensor2d(concat(inputs), [inputs.length, model.seqLen]);
          const { forecast, hiddenMean } = tempoForward(params, x);
          return hidden ? hiddenMean : forecast;
        }),
    });
  },
};
