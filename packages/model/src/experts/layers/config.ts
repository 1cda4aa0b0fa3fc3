import { ConfigError } from '@enecg/common';

/**
 * Merges user overrides into a preset, refusing unknown keys and values of the wrong kind before any
 * work starts. Every numeric setting of an expert's size must be a positive integer unless listed in
 * `fractional`.
 */
export function mergeConfig<T extends object>(
  expert: string,
  preset: T,
  overrides: Record<string, unknown>,
  fractional: readonly (keyof T)[] = [],
): T {
  const merged: Record<string, unknown> = { ...(preset as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in preset)) {
      throw new ConfigError(`unknown setting; known: ${Object.keys(preset).join(', ')}`, `${expert}.${key}`);
    }
    const expected = (preset as Record<string, unknown>)[key];
    if (typeof expected === 'number') {
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (fractional.includes(key as keyof T) ? value > 0 : Number.isInteger(value) && value > 0);
      if (!ok)
        throw new ConfigError(
          `must be a positive ${fractional.includes(key as keyof T) ? 'number' : 'integer'}`,
          `${expert}.${key}`,
        );
    } else if (typeof expected === 'string' && typeof value !== 'string') {
      throw new ConfigError('must be a string', `${expert}.${key}`);
    } else if (Array.isArray(expected) && !Array.isArray(value)) {
      throw new ConfigError('must be an array', `${expert}.${key}`);
    }
    merged[key] = value;
  }
  return merged as T;
}

/** Picks a named preset, naming the valid ones when the name is unknown. */
export function pickPreset<T>(expert: string, presets: Record<string, T>, name: unknown): T {
  if (typeof name !== 'string' || !(name in presets)) {
    throw new ConfigError(
      `unknown size ${String(name)}; one of ${Object.keys(presets).join(', ')}`,
      `${expert}.size`,
    );
  }
  return presets[name]!;
}

/** The 12 standard leads in ECG-FM's order (I, II, III, aVR, aVL, aVF, V1-V6); leads are matched by name. */
export const STANDARD_LEADS = ['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];

export function positiveBatch(value: number, expert: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${value} is not a positive integer`, `${expert}.batchSize`);
  }
  return value;
}
