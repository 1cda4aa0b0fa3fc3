import type { EcgRecord } from '@enecg/common';
import { ConfigError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { createExpert, expertNames, validateExpertConfig } from '../src/experts/registry.ts';

const record: EcgRecord = {
  studyId: 1,
  subjectId: 2,
  samplingRate: 500,
  leadNames: ['I', 'II'],
  signals: [new Float32Array(5000).fill(1), Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i / 40))],
};

describe('expert registry', () => {
  it('lists the experts and refuses unknown names and settings', async () => {
    expect(expertNames()).toContain('raw-leads');
    await expect(createExpert('nope', { seed: 1 })).rejects.toThrow(/^expert: unknown expert "nope"/);
    await expect(createExpert('raw-leads', { seed: 1, config: { lenght: 5 } })).rejects.toThrow(ConfigError);
    await expect(createExpert('raw-leads', { seed: 1, config: { length: '5' } })).rejects.toThrow(
      /raw-leads\.length/,
    );
  });

  it('validateExpertConfig refuses what createExpert refuses, with the same key, and accepts the defaults', async () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['dlinear', { movingAvg: 24 }],
      ['timesnet', { topK: 0 }],
      ['ecgfm', { aggregate: 'median' }],
      ['moment', { length: 4096 }],
      ['tempo', { length: 512 }],
      ['raw-leads', { normalization: 'none?' }],
    ];
    for (const [name, config] of bad) {
      const created = await createExpert(name, { seed: 1, config }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(created).toBeInstanceOf(ConfigError);
      expect(() => validateExpertConfig(name, config)).toThrow((created as ConfigError).message);
    }
    for (const name of expertNames()) expect(() => validateExpertConfig(name, undefined)).not.toThrow();
    expect(() => validateExpertConfig('nope', {})).toThrow(/^expert: unknown expert "nope"/);
  });

  it('raw-leads embeds lead II resampled to the configured length', async () => {
    const expert = await createExpert('raw-leads', { seed: 1, config: { length: 500 } });
    expect(expert.embeddingSize).toBe(500);
    expect(expert.weightsId).toBe('none');
    const [embedding] = await expert.embed([record]);
    expect(embedding!.length).toBe(500);
    const other = await createExpert('raw-leads', { seed: 1, config: { length: 250 } });
    expect(other.preprocessingHash).not.toBe(expert.preprocessingHash);
  });
});
