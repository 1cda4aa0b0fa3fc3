import { InputError } from '@enecg/common';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import {
  type MomentConfig,
  momentEmbed,
  prepareMoment,
  relativePositionBuckets,
} from '../src/experts/moment/model.ts';
import { type ExpertFixture, edited, expectClose, ioTensor, loadExpertFixture } from './expert-fixtures.ts';

describe.each(installedBackends())('MOMENT port against momentfm (%s backend)', (backend) => {
  let fixture: ExpertFixture<MomentConfig>;
  beforeAll(async () => {
    await selectBackend(backend);
    fixture = await loadExpertFixture<MomentConfig>('moment-tiny');
  });

  it('reproduces MOMENTPipeline.embed within 1e-4, left-padded input included', () => {
    const params = prepareMoment(fixture.weights, fixture.config, fixture.weightsPath);
    const x = ioTensor(fixture, 'x') as tf.Tensor3D;
    const mask = ioTensor(fixture, 'input_mask') as tf.Tensor2D;
    expectClose(momentEmbed(params, x, mask), ioTensor(fixture, 'embedding'), 1e-4);
  });

  it('computes the T5 relative-position buckets exactly', () => {
    const buckets = relativePositionBuckets(64, fixture.config);
    expect([...buckets]).toEqual([...ioTensor(fixture, 'buckets').dataSync()]);
  });

  it('refuses a checkpoint with a missing or mis-shaped tensor, naming it', () => {
    const name = 'encoder.block.1.layer.1.DenseReluDense.wi_1.weight';
    expect(() => prepareMoment(edited(fixture.weights, name), fixture.config, 'ckpt.safetensors')).toThrow(
      new RegExp(`missing tensor ${name.replaceAll('.', '\\.')}`),
    );
    const wrong = edited(fixture.weights, name, tf.zeros([63, 32]));
    expect(() => prepareMoment(wrong, fixture.config, 'ckpt.safetensors')).toThrow(InputError);
    expect(() => prepareMoment(wrong, fixture.config, 'ckpt.safetensors')).toThrow(
      /shape \[63, 32\], expected \[64, 32\]/,
    );
  });

  it('refuses a checkpoint of a bigger model (left-over layers)', () => {
    const smaller = { ...fixture.config, layers: 1 };
    expect(() => prepareMoment(fixture.weights, smaller, 'ckpt.safetensors')).toThrow(
      /unexpected tensor\(s\).*encoder\.block\.1\./,
    );
  });
});
