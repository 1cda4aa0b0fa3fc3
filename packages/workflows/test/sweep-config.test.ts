import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { beforeAll, describe, expect, it } from 'vitest';
import { expandSearch, validateSweepConfig } from '../src/index.ts';

let base: Record<string, unknown>;

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'enecg-sweep-config-'));
  const source = join(root, 'source');
  await generateSynthetic({ subjects: 4, outDir: source, seed: 3, layout: 'v1' });
  base = {
    source,
    hosp: join(source, 'hosp'),
    warehouse: join(root, 'warehouse'),
    training: { maxEpochs: 2 },
  };
});

describe('sweep configuration', () => {
  it('expands a grid in a fixed order with stable trial ids', async () => {
    const raw = {
      base,
      search: { space: { loraRank: [2, 4], topK: [0, 1], tasks: [['age'], ['age', 'flag']] } },
      selection: { task: 'age' },
    };
    const plan = await validateSweepConfig(raw);
    expect(plan.trials).toHaveLength(8);
    expect(plan.trials[0]?.params).toEqual({ loraRank: 2, topK: 0, tasks: ['age'] });
    expect(plan.trials[1]?.params).toEqual({ loraRank: 2, topK: 0, tasks: ['age', 'flag'] });
    const again = await validateSweepConfig(raw);
    expect(again.trials.map((t) => t.trialId)).toEqual(plan.trials.map((t) => t.trialId));
    expect(new Set(plan.trials.map((t) => t.trialId)).size).toBe(8);
    expect(again.sweepId).toBe(plan.sweepId);
    expect(plan.trials[0]?.training).toMatchObject({ maxEpochs: 2, lora: { rank: 2 }, gate: { topK: 0 } });
    expect(plan.trials[0]?.lossGroup).not.toBe(plan.trials[1]?.lossGroup);
  });

  it('draws the same random trials for the same seed and others for another seed', () => {
    const space = { loraRank: [1, 2, 3, 4], loraAlpha: [4, 8, 16], learningRate: [1e-3, 1e-2] };
    const draw = (seed: number) => expandSearch({ method: 'random', samples: 5, seed, space });
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(new Set(draw(7).map((p) => JSON.stringify(p))).size).toBe(5);
    expect(() => expandSearch({ method: 'random', samples: 99, seed: 1, space })).toThrow(/search\.samples/);
  });

  it('refuses a bad sweep before any work starts, naming the key', async () => {
    const bad = async (raw: unknown) => validateSweepConfig(raw);
    await expect(bad({ base, search: { space: { loraRank: [0] } } })).rejects.toThrow(
      /search\.space\.loraRank/,
    );
    await expect(bad({ base, search: { space: { loraRank: [2] } }, maxParallel: 0 })).rejects.toThrow(
      /maxParallel/,
    );
    await expect(bad({ base, search: { space: { gateDepth: [1] } } })).rejects.toThrow(
      /search\.space\.gateDepth/,
    );
    await expect(bad({ base, search: { space: { topK: [4] } } })).rejects.toThrow(/search\.space\.topK/);
    await expect(bad({ base, search: { space: { tasks: [['pulse']] } } })).rejects.toThrow(
      /search\.space\.tasks/,
    );
    await expect(bad({ base, search: { method: 'random', space: { loraRank: [2] } } })).rejects.toThrow(
      /search\.samples/,
    );
    await expect(
      bad({ base, search: { space: { tasks: [['age']] } }, selection: { task: 'report_label' } }),
    ).rejects.toThrow(/selection\.task/);
    await expect(
      bad({ base, search: { space: {} }, selection: { task: 'age', metric: 'auroc' } }),
    ).rejects.toThrow(ConfigError);
    await expect(bad({ base: { ...base, source: '/nowhere' }, search: { space: {} } })).rejects.toThrow(
      /source/,
    );
  });
});
