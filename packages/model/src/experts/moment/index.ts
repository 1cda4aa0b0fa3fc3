import { ConfigError, STANDARD_LEADS } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { positiveBatch, resolveSizedExpert } from '../layers/config.ts';
import { createBackboneExpert } from '../layers/expert.ts';
import type { ExpertFactory } from '../types.ts';
import { MOMENT_PRESETS, type MomentConfig, momentEmbed, momentWeightSpecs, prepareMoment } from './model.ts';

/**
 * `size` picks tiny (demo default), small, base or large; `model` overrides single sizes. `length` is the
 * resampled record length: shorter than the model's seqLen means left padding with input_mask 0. The
 * reference method fed MOMENT whole 5000-sample records (625 patches; the published positional table has
 * 5000 rows): `{ length: 5000, model: { seqLen: 5000 } }`.
 */
export const MOMENT_DEFAULTS = {
  size: 'tiny',
  model: {} as Record<string, unknown>,
  leads: [...STANDARD_LEADS],
  length: 512,
  normalization: 'record',
  batchSize: 4,
};

export function resolveMomentConfig(given: Record<string, unknown> | undefined) {
  const { settings, model, preprocess } = resolveSizedExpert(
    'moment',
    given,
    MOMENT_DEFAULTS,
    MOMENT_PRESETS,
  );
  if (preprocess.length > model.seqLen) {
    throw new ConfigError(
      `${preprocess.length} exceeds the model's ${model.seqLen} samples`,
      'moment.length',
    );
  }
  if (model.seqLen % model.patchLen !== 0) {
    throw new ConfigError(
      `seqLen ${model.seqLen} is not a multiple of patchLen ${model.patchLen}`,
      'moment.model',
    );
  }
  return { model, preprocess, batchSize: positiveBatch(settings.batchSize, 'moment') };
}

export const momentExpert: ExpertFactory = {
  name: 'moment',
  description: 'MOMENT-1 (T5 encoder over 8-sample patches), mean-pooled over leads and patches',
  validateConfig(config) {
    resolveMomentConfig(config);
  },
  async create(options) {
    const { model, preprocess, batchSize } = resolveMomentConfig(options.config);
    return createBackboneExpert(options, {
      name: 'moment',
      specs: momentWeightSpecs(model),
      prepare: (weights, source) => prepareMoment(weights, model, source),
      embeddingSize: model.dModel,
      preprocess,
      settings: { model },
      batchSize,
      forward: (params, inputs) =>
        tf.tidy(() =>
          momentEmbed(params, ...leftPadded(inputs, preprocess.leads.length, preprocess.length, model)),
        ),
    });
  },
};

/** Records [leads x length] -> x [B, leads, seqLen] left-padded with zeros, and the input mask [B, seqLen]. */
export function leftPadded(
  inputs: readonly Float32Array[],
  leads: number,
  length: number,
  model: MomentConfig,
): [tf.Tensor3D, tf.Tensor2D] {
  const pad = model.seqLen - length;
  const x = new Float32Array(inputs.length * leads * model.seqLen);
  inputs.forEach((input, b) => {
    for (let c = 0; c < leads; c++) {
      x.set(input.subarray(c * length, (c + 1) * length), (b * leads + c) * model.seqLen + pad);
    }
  });
  const mask = new Float32Array(inputs.length * model.seqLen);
  for (let b = 0; b < inputs.length; b++) mask.fill(1, b * model.seqLen + pad, (b + 1) * model.seqLen);
  return [
    tf.tensor3d(x, [inputs.length, leads, model.seqLen]),
    tf.tensor2d(mask, [inputs.length, model.seqLen]),
  ];
}
