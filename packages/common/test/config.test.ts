import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../src/index.ts';

const schema = z.strictObject({
  seed: z.number().int().default(42),
  training: z.strictObject({ epochs: z.number().int().positive() }),
});

describe('parseConfig', () => {
  it('returns the parsed value with defaults applied', () => {
    expect(parseConfig(schema, { training: { epochs: 3 } })).toEqual({ seed: 42, training: { epochs: 3 } });
  });

  it('names every offending key and the source file', () => {
    const attempt = () => parseConfig(schema, { training: { epochs: -1 }, sede: 1 }, 'run.yaml');
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/run\.yaml: invalid configuration/);
    expect(attempt).toThrow(/training\.epochs: Too small/);
    expect(attempt).toThrow(/sede/);
  });
});
