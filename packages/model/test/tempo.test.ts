import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import {
  prepareTempo,
  TEMPO_PRESETS,
  type TempoConfig,
  tempoForward,
  tempoPatchCount,
} from '../src/experts/tempo/model.ts';
import {
  type ExpertFixture,
  edited,
  expectClose,
  ioTensor,
  loadExpertFixture,
  renamed,
} from './expert-fixtures.ts';

describe.each(installedBackends())('TEMPO port against timeagi (%s backend)', (backend) => {
  let fixture: ExpertFixture<TempoConfig>;
  beforeAll(async () => {
    await selectBackend(backend);
    fixture = await loadExpertFixture<TempoConfig>('tempo-tiny');
  });

  it('reproduces TEMPO.forward (LoRA merged) and its series-token states within 1e-4', () => {
    const params = prepareTempo(fixture.weights, fixture.config, fixture.weightsPath);
    const out = tempoForward(params, ioTensor(fixture, 'x') as tf.Tensor2D);
    expectClose(out.forecast, ioTensor(fixture, 'forecast'), 1e-4);
    expectClose(out.hiddenMean, ioTensor(fixture, 'hidden_mean'), 1e-4);
  });

  it('loads the older peft naming (no .base_layer.) to the same result', () => {
    const older = renamed(fixture.weights, (name) => name.replace('.c_attn.base_layer.', '.c_attn.'));
    const params = prepareTempo(older, fixture.config, 'TEMPO-80M_v1.safetensors');
    expectClose(
      tempoForward(params, ioTensor(fixture, 'x') as tf.Tensor2D).forecast,
      ioTensor(fixture, 'forecast'),
      1e-4,
    );
  });

  it('applies the LoRA adapters: zeroing lora_B changes the forecast', () => {
    const name = 'gpt2_trend.base_model.model.h.0.attn.c_attn.lora_B.default.weight';
    const without = edited(fixture.weights, name, tf.zerosLike(fixture.weights.get(name)!));
    const params = prepareTempo(without, fixture.config, 'ckpt');
    const forecast = tempoForward(params, ioTensor(fixture, 'x') as tf.Tensor2D).forecast;
    const diff = tf.max(tf.abs(tf.sub(forecast, ioTensor(fixture, 'forecast')))).dataSync()[0]!;
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('refuses a missing LoRA tensor and a mis-shaped head, naming them', () => {
    const lora = 'gpt2_trend.base_model.model.h.1.attn.c_attn.lora_A.default.weight';
    expect(() => prepareTempo(edited(fixture.weights, lora), fixture.config, 'ckpt')).toThrow(
      new RegExp(`missing tensor ${lora.replaceAll('.', '\\.')}`),
    );
    const head = edited(fixture.weights, 'out_layer_noise.weight', tf.zeros([8, 10]));
    expect(() => prepareTempo(head, fixture.config, 'ckpt')).toThrow(
      /out_layer_noise\.weight has shape \[8, 10\]/,
    );
  });
});

describe('TEMPO reference sizes', () => {
  it('patches 336 samples into 42 patches (ReplicationPad adds one)', () => {
    expect(tempoPatchCount(TEMPO_PRESETS.full!)).toBe(42);
  });
});
