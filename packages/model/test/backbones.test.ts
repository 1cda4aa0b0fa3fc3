import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import { type DLinearConfig, DLinearModel } from '../src/experts/dlinear/model.ts';
import { type TimesNetConfig, TimesNetModel } from '../src/experts/timesnet/model.ts';
import { openWeights } from '../src/safetensors/index.ts';

interface Case<C> {
  name: string;
  config: C;
  inputs: number[][];
  embeddings: number[][];
}
const fixtures: {
  dlinear: Case<DLinearConfig>[];
  timesnet: Case<Omit<TimesNetConfig, 'embedding'>>[];
} = JSON.parse(readFileSync(new URL('./fixtures/backbones.json', import.meta.url), 'utf8'));

const fixturePath = (name: string) =>
  fileURLToPath(new URL(`./fixtures/${name}.safetensors`, import.meta.url));

function expectClose(got: Float32Array[], want: number[][], tolerance: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  got.forEach((row, r) => {
    expect(row.length).toBe(want[r]!.length);
    row.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - want[r]![i]!));
    });
  });
  expect(worst).toBeLessThan(tolerance);
}

describe.each(installedBackends())(
  'golden outputs on the %s backend (numpy reference of the PyTorch modules)',
  { timeout: 60_000 },
  (backend) => {
    it.each(fixtures.dlinear.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      await selectBackend(backend);
      const model = DLinearModel.load(await openWeights(fixturePath(c.name), 0), c.config);
      expectClose(model.forward(c.inputs.map((x) => Float32Array.from(x))), c.embeddings, 1e-4);
      model.dispose();
    });

    it.each(fixtures.timesnet.map((c) => [c.name, c] as const))(
      '%s, one batch of all records',
      async (_name, c) => {
        await selectBackend(backend);
        const model = TimesNetModel.load(await openWeights(fixturePath(c.name), 0), {
          ...c.config,
          embedding: 'flatten',
        });
        expectClose(model.forward(c.inputs.map((x) => Float32Array.from(x))), c.embeddings, 1e-4);
        model.dispose();
      },
    );
  },
);

describe('weights by their reference names', () => {
  it('refuses a checkpoint whose sizes do not match the configuration, naming the tensor', async () => {
    const c = fixtures.timesnet[0]!;
    const weights = await openWeights(fixturePath(c.name), 0);
    expect(() => TimesNetModel.load(weights, { ...c.config, dFf: 16, embedding: 'flatten' })).toThrow(
      /field model\.0\.conv\.0\.kernels\.0\.weight: tensor model\.0\.conv\.0\.kernels\.0\.weight has shape \[12,8,1,1\], expected \[16,8,1,1\]/,
    );
    const fewer = await openWeights(fixturePath(c.name), 0);
    expect(() => TimesNetModel.load(fewer, { ...c.config, numKernels: 3, embedding: 'flatten' })).toThrow(
      /unexpected tensor\(s\) model\.0\.conv\.0\.kernels\.3\.bias/,
    );
    const shorter = await openWeights(fixturePath(c.name), 0);
    expect(() => TimesNetModel.load(shorter, { ...c.config, seqLen: 50, embedding: 'flatten' })).toThrow(
      /projection\.weight has shape \[3,480\], which implies seq_len 60, not 50/,
    );
    const d = fixtures.dlinear[0]!;
    const shared = await openWeights(fixturePath(d.name), 0);
    expect(() => DLinearModel.load(shared, { ...d.config, individual: true })).toThrow(
      /tensor Linear_Seasonal\.0\.weight is missing/,
    );
  });
});
