import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { validatePipelineConfig } from '../src/index.ts';

let base: { source: string; hosp: string; warehouse: string };

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'enecg-expert-config-'));
  base = { source: join(root, 'source'), hosp: join(root, 'hosp'), warehouse: join(root, 'warehouse') };
  await mkdir(base.source);
  await mkdir(base.hosp);
});

/** The key of the ConfigError the config is refused with. */
function refusedKey(experts: unknown[]): string | undefined {
  try {
    validatePipelineConfig({ ...base, experts });
  } catch (error) {
    if (error instanceof ConfigError) return error.key;
    throw error;
  }
  return undefined;
}

describe('expert config checked before the run starts', () => {
  it('accepts valid configs of every kind of expert', () => {
    const config = validatePipelineConfig({
      ...base,
      experts: [
        { name: 'dlinear', config: { movingAvg: 13 } },
        { name: 'timesnet', config: { dModel: 8, embedding: 'time-mean' } },
        { name: 'raw-leads', config: { leads: ['II', 'V5'], length: 1000 } },
        { name: 'ecgfm', config: { size: 'tiny', aggregate: 'max' } },
        { name: 'moment', config: { model: { dModel: 32 } } },
        { name: 'tempo', config: { output: 'hidden' } },
      ],
    });
    expect(config.experts.map((e) => e.name)).toEqual([
      'dlinear',
      'timesnet',
      'raw-leads',
      'ecgfm',
      'moment',
      'tempo',
    ]);
  });

  it('names the expert entry and the config key of a typo, a wrong type or a bad value', () => {
    expect(refusedKey([{ name: 'timesnet' }, { name: 'dlinear', config: { movingAvgs: 25 } }])).toBe(
      'experts.1.config.movingAvgs',
    );
    expect(refusedKey([{ name: 'dlinear', config: { movingAvg: 24 } }])).toBe('experts.0.config.movingAvg');
    expect(refusedKey([{ name: 'dlinear', config: { individual: 'yes' } }])).toBe(
      'experts.0.config.individual',
    );
    expect(refusedKey([{ name: 'raw-leads', config: { leads: ['II', 'II'] } }])).toBe(
      'experts.0.config.leads',
    );
    expect(refusedKey([{ name: 'timesnet', config: { embedding: 'mean' } }])).toBe(
      'experts.0.config.embedding',
    );
    expect(refusedKey([{ name: 'ecgfm', config: { size: 'huge' } }])).toBe('experts.0.config.size');
    expect(refusedKey([{ name: 'ecgfm', config: { model: { dModels: 8 } } }])).toBe(
      'experts.0.config.model.dModels',
    );
    expect(refusedKey([{ name: 'moment', config: { batchSize: 0 } }])).toBe('experts.0.config.batchSize');
    expect(refusedKey([{ name: 'tempo', config: { leads: ['I', 'II'] } }])).toBe('experts.0.config.leads');
  });

  it('says what is wrong and where the config came from', () => {
    expect(() =>
      validatePipelineConfig(
        { ...base, experts: [{ name: 'dlinear', config: { movingAvgs: 25 } }] },
        'run.yaml',
      ),
    ).toThrow(/^experts\.0\.config\.movingAvgs: run\.yaml: unknown setting \(known: leads, length/);
  });
});
