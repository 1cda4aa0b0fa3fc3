import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import {
  ECGFM_PRESETS,
  type EcgfmConfig,
  ecgfmEmbed,
  ecgfmFrameCount,
  ecgfmLogits,
  prepareEcgfm,
} from '../src/experts/ecgfm/model.ts';
import {
  type ExpertFixture,
  edited,
  expectClose,
  ioTensor,
  loadExpertFixture,
  renamed,
} from './expert-fixtures.ts';

describe.each(installedBackends())(
  'ECG-FM port against the fairseq-signals re-statement (%s backend)',
  (backend) => {
    let fixture: ExpertFixture<EcgfmConfig>;
    beforeAll(async () => {
      await selectBackend(backend);
      fixture = await loadExpertFixture<EcgfmConfig>('ecgfm-tiny');
    });

    it('reproduces the pooled encoder output within 1e-4', () => {
      const params = prepareEcgfm(fixture.weights, fixture.config, fixture.weightsPath);
      expectClose(
        ecgfmEmbed(params, ioTensor(fixture, 'x') as tf.Tensor3D),
        ioTensor(fixture, 'pooled'),
        1e-4,
      );
    });

    it('loads the fine-tuned checkpoint layout (encoder. prefix, weight_g/weight_v, classifier head)', () => {
      const finetuned = renamed(fixture.weights, (name) =>
        `encoder.${name}`
          .replace('parametrizations.weight.original0', 'weight_g')
          .replace('parametrizations.weight.original1', 'weight_v'),
      );
      finetuned.set('proj.weight', tf.zeros([17, 32]));
      finetuned.set('proj.bias', tf.zeros([17]));
      const params = prepareEcgfm(finetuned, fixture.config, 'mimic_iv_ecg_finetuned.safetensors');
      expectClose(
        ecgfmEmbed(params, ioTensor(fixture, 'x') as tf.Tensor3D),
        ioTensor(fixture, 'pooled'),
        1e-4,
      );
    });

    it('reproduces the fine-tuned classifier logits (proj on the pooled state)', () => {
      const finetuned = renamed(fixture.weights, (name) => `encoder.${name}`);
      finetuned.set('proj.weight', ioTensor(fixture, 'proj.weight'));
      finetuned.set('proj.bias', ioTensor(fixture, 'proj.bias'));
      const params = prepareEcgfm(finetuned, { ...fixture.config, labels: 5 }, 'finetuned.safetensors');
      const pooled = ecgfmEmbed(params, ioTensor(fixture, 'x') as tf.Tensor3D);
      expectClose(ecgfmLogits(params, pooled), ioTensor(fixture, 'logits'), 1e-4);
      expect(() =>
        prepareEcgfm(fixture.weights, { ...fixture.config, labels: 5 }, 'pretrained.safetensors'),
      ).toThrow(/missing tensor proj\.weight/);
    });

    it('refuses a missing positional-convolution tensor and a mis-shaped conv layer, naming them', () => {
      const name = 'conv_pos.pos_conv.0.parametrizations.weight.original1';
      expect(() => prepareEcgfm(edited(fixture.weights, name), fixture.config, 'ckpt')).toThrow(
        /missing tensor conv_pos\.pos_conv\.0\.parametrizations\.weight\.original1 \(also tried conv_pos\.pos_conv\.0\.weight_v\)/,
      );
      const conv = edited(fixture.weights, 'feature_extractor.conv_layers.2.0.weight', tf.zeros([16, 16, 3]));
      expect(() => prepareEcgfm(conv, fixture.config, 'ckpt')).toThrow(
        /conv_layers\.2\.0\.weight has shape \[16, 16, 3\]/,
      );
    });
  },
);

describe('ECG-FM reference sizes', () => {
  it('turns a 5 s segment at 500 Hz into 156 frames', () => {
    expect(ecgfmFrameCount(ECGFM_PRESETS.full!)).toBe(156);
  });
});
