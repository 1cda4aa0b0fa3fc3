import { ConfigError } from '@enecg/common';
import type { PreprocessConfig } from '../preprocess/index.ts';
import { validatePreprocessConfig } from '../preprocess/index.ts';

/**
 * Merges an expert's given config over its defaults, refusing unknown keys and values whose JSON type
 * differs from the default's, with the offending key named as `<expert>.<key>`.
 */
export function resolveExpertConfig<T extends Record<string, unknown>>(
  expert: string,
  given: Record<string, unknown> | undefined,
  defaults: T,
): T {
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(given ?? {})) {
    if (!(key in defaults)) {
      throw new ConfigError(
        `unknown setting (known: ${Object.keys(defaults).join(', ')})`,
        `${expert}.${key}`,
      );
    }
    const expected = defaults[key];
    const sameKind = Array.isArray(expected) ? Array.isArray(value) : typeof value === typeof expected;
    if (!sameKind)
      throw new ConfigError(
        `expected a ${Array.isArray(expected) ? 'list' : typeof expected}`,
        `${expert}.${key}`,
      );
    merged[key] = value;
  }
  return merged as T;
}

export function requireInteger(value: number, key: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${value} is not an integer in ${min}..${max}`, key);
  }
  return value;
}

/** The preprocessing part of an expert config (`leads`, `length`, `normalization`), validated. */
export function preprocessPart(
  expert: string,
  config: { leads: string[]; length: number; normalization: string },
): PreprocessConfig {
  return validatePreprocessConfig(
    {
      leads: config.leads,
      length: config.length,
      normalization: config.normalization as PreprocessConfig['normalization'],
    },
    expert,
  );
}
