import type * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, it } from 'vitest';
import { selectBackend } from '../src/backend/index.ts';
import { type EcgfmConfig, ecgfmEmbed, prepareEcgfm } from '../src/experts/ecgfm/model.ts';
import { type MomentConfig, momentEmbed, prepareMoment } from '../src/experts/moment/model.ts';
import { prepareTempo, type TempoConfig, tempoForward } from '../src/experts/tempo/model.ts';
import { expectClose, ioTensor, loadExpertFixture } from './expert-fixtures.ts';

/**
 * Full-size parity (MOMENT-1-small, TEMPO-80M, ECG-FM BERT-base layouts with random weights). The
 * fixtures are hundreds of MB, so they are generated on demand:
 *   .tools/venv/bin/python packages/model/tools/make_expert_fixtures.py --full /tmp/enecg-full
 *   ENECG_FULL_FIXTURES=/tmp/enecg-full npx vitest run test/moment-tempo-ecgfm-full.test.ts
 */
const dir = process.env.ENECG_FULL_FIXTURES;

describe.skipIf(!dir)('full-size ports against the references (wasm)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('MOMENT-1-small layout', async () => {
    const f = await loadExpertFixture<MomentConfig>('moment-full', dir);
    const params = prepareMoment(f.weights, f.config, f.weightsPath);
    const out = momentEmbed(
      params,
      ioTensor(f, 'x') as tf.Tensor3D,
      ioTensor(f, 'input_mask') as tf.Tensor2D,
    );
    expectClose(out, ioTensor(f, 'embedding'), 1e-4);
  }, 120_000);

  it('TEMPO-80M layout (GPT-2 small, 6 layers, real prompt ids)', async () => {
    const f = await loadExpertFixture<TempoConfig>('tempo-full', dir);
    const out = tempoForward(
      prepareTempo(f.weights, f.config, f.weightsPath),
      ioTensor(f, 'x') as tf.Tensor2D,
    );
    expectClose(out.forecast, ioTensor(f, 'forecast'), 1e-4);
    expectClose(out.hiddenMean, ioTensor(f, 'hidden_mean'), 1e-4);
  }, 120_000);

  it('ECG-FM layout (BERT-base encoder)', async () => {
    const f = await loadExpertFixture<EcgfmConfig>('ecgfm-full', dir);
    const out = ecgfmEmbed(prepareEcgfm(f.weights, f.config, f.weightsPath), ioTensor(f, 'x') as tf.Tensor3D);
    expectClose(out, ioTensor(f, 'pooled'), 1e-4);
  }, 120_000);
});
