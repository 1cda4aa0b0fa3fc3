import { ConfigError, STANDARD_LEADS } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { positiveBatch, resolveSizedExpert } from '../layers/config.ts';
import { createBackboneExpert } from '../layers/expert.ts';
import { concat } from '../layers/tensors.ts';
import type { ExpertFactory } from '../types.ts';
import {
  ECGFM_PRESETS,
  type EcgfmConfig,
  ecgfmEmbed,
  ecgfmLogits,
  ecgfmWeightSpecs,
  prepareEcgfm,
} from './model.ts';

/**
 * ECG-FM's inference preprocessing: leads in its order by name, per-lead standardisation (flat leads to
 * zero), 500 Hz (10 s records -> 5000 samples), non-overlapping 5 s segments (a trailing partial segment
 * is dropped); segment outputs are aggregated per record by `aggregate` (mean or max), as the reference
 * aggregates its per-segment predictions. `output` is the pooled encoder state (`embedding`, dModel values)
 * or the fine-tuned classifier's logits (`logits`, needs `model.labels` and the checkpoint's `proj`).
 */
export const ECGFM_DEFAULTS = {
  size: 'tiny',
  model: {} as Record<string, unknown>,
  leads: [...STANDARD_LEADS],
  length: 5000,
  normalization: 'lead',
  aggregate: 'mean',
  output: 'embedding',
  batchSize: 4,
};

export function resolveEcgfmConfig(given: Record<string, unknown> | undefined) {
  const { settings, model, preprocess } = resolveSizedExpert('ecgfm', given, ECGFM_DEFAULTS, ECGFM_PRESETS);
  if (preprocess.leads.length !== model.inChannels) {
    throw new ConfigError(
      `${preprocess.leads.length} leads for a model with ${model.inChannels} input channels`,
      'ecgfm.leads',
    );
  }
  if (model.convLayers.some((layer) => layer.length !== 3 || layer.some((n) => n < 1))) {
    throw new ConfigError(
      'each conv layer is [dim, kernel, stride] of positive integers',
      'ecgfm.model.convLayers',
    );
  }
  const segments = Math.floor(preprocess.length / model.segmentLength);
  if (segments < 1)
    throw new ConfigError(`shorter than one ${model.segmentLength}-sample segment`, 'ecgfm.length');
  if (settings.aggregate !== 'mean' && settings.aggregate !== 'max') {
    throw new ConfigError('must be mean or max', 'ecgfm.aggregate');
  }
  if (settings.output !== 'embedding' && settings.output !== 'logits') {
    throw new ConfigError('must be embedding or logits', 'ecgfm.output');
  }
  const logits = settings.output === 'logits';
  if (logits && model.labels < 1) {
    throw new ConfigError(
      'logits need the classifier head: set model.labels (17 for the MIMIC fine-tuned checkpoint)',
      'ecgfm.output',
    );
  }
  if (model.dModel % model.convPosGroups !== 0 || model.dModel % model.heads !== 0) {
    throw new ConfigError('dModel must be divisible by heads and convPosGroups', 'ecgfm.model');
  }
  const batchSize = positiveBatch(settings.batchSize, 'ecgfm');
  return { settings, model, preprocess, segments, logits, batchSize };
}

export const ecgfmExpert: ExpertFactory = {
  name: 'ecgfm',
  description: 'ECG-FM (wav2vec 2.0 conv extractor + post-LN transformer) over 5 s segments of 12 leads',
  validateConfig(config) {
    resolveEcgfmConfig(config);
  },
  async create(options) {
    const { settings, model, preprocess, segments, logits, batchSize } = resolveEcgfmConfig(options.config);
    return createBackboneExpert(options, {
      name: 'ecgfm',
      specs: ecgfmWeightSpecs(model),
      prepare: (weights, source) => prepareEcgfm(weights, model, source),
      embeddingSize: logits ? model.labels : model.dModel,
      preprocess,
      settings: { model, aggregate: settings.aggregate, output: settings.output },
      batchSize,
      forward: (params, inputs) =>
        tf.tidy(() => {
          const pooled = ecgfmEmbed(params, segmentsChannelsLast(inputs, model, preprocess.length, segments));
          const perSegment = logits ? ecgfmLogits(params, pooled) : pooled;
          const perRecord = tf.reshape(perSegment, [inputs.length, segments, -1]);
          return (settings.aggregate === 'max' ? tf.max(perRecord, 1) : tf.mean(perRecord, 1)) as tf.Tensor2D;
        }),
    });
  },
};

/** Records [leads x length] -> [records * segments, segmentLength, leads] (record-major, then segment). */
export function segmentsChannelsLast(
  inputs: readonly Float32Array[],
  model: EcgfmConfig,
  length: number,
  segments: number,
): tf.Tensor3D {
  const leads = model.inChannels;
  const x = tf.tensor3d(concat(inputs), [inputs.length, leads, length]);
  const used = tf.slice(x, [0, 0, 0], [inputs.length, leads, segments * model.segmentLength]);
  const split = tf.reshape(used, [inputs.length, leads, segments, model.segmentLength]);
  return tf.reshape(tf.transpose(split, [0, 2, 3, 1]), [
    inputs.length * segments,
    model.segmentLength,
    leads,
  ]);
}
