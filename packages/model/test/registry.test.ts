import type { EcgRecord } from '@enecg/common';
import { ConfigError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { createExpert, expertNames } from '../src/experts/registry.ts';

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
