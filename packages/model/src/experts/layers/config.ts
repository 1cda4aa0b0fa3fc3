import { ConfigError } from '@enecg/common';
import type { PreprocessConfig } from '../../preprocess/index.ts';
import { preprocessPart, resolveExpertConfig } from '../config.ts';

/**
 * Merges user overrides into a preset, refusing unknown keys and values of the wrong kind before any
 * work starts: sizes (integers in the preset) must be positive integers, tolerances (fractions in the
 * preset) positive numbers, flags booleans, and lists (layer specs, token ids) lists of the same depth
 * holding non-negative integers.
 */
export function mergeConfig<T extends object>(
  expert: string,
  preset: T,
  overrides: Record<string, unknown>,
): T {
  const merged: Record<string, unknown> = { ...(preset as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    const expected = (preset as Record<string, unknown>)[key];
    const problem =
      key in preset
        ? kindProblem(expected, value)
        : `unknown setting; known: ${Object.keys(preset).join(', ')}`;
    if (problem) throw new ConfigError(problem, `${expert}.${key}`);
    merged[key] = value;
  }
  return merged as T;
}

function kindProblem(expected: unknown, value: unknown): string | undefined {
  if (typeof expected === 'number') {
    if (Number.isInteger(expected)) {
      return Number.isInteger(value) && (value as number) > 0 ? undefined : 'must be a positive integer';
    }
    return typeof value === 'number' && Number.isFinite(value) && value > 0
      ? undefined
      : 'must be a positive number';
  }
  if (typeof expected === 'boolean') return typeof value === 'boolean' ? undefined : 'must be true or false';
  if (Array.isArray(expected)) {
    const nested = Array.isArray(expected[0]);
    const ok =
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((item) =>
        nested ? Array.isArray(item) && item.every(isNonNegativeInteger) : isNonNegativeInteger(item),
      );
    return ok ? undefined : `must be a non-empty list of ${nested ? 'lists of ' : ''}non-negative integers`;
  }
  return typeof value === typeof expected ? undefined : `must be a ${typeof expected}`;
}

function isNonNegativeInteger(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
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

export function positiveBatch(value: number, expert: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${value} is not a positive integer`, `${expert}.batchSize`);
  }
  return value;
}

/** The settings of an expert built in sizes: given config over defaults, the size's preset with overrides. */
export interface SizedSettings {
  size: string;
  model: Record<string, unknown>;
  leads: string[];
  length: number;
  normalization: string;
}

/**
 * Resolves a sized expert's configuration: `config` over `defaults`, the preset `config.size` names with
 * `config.model` merged in, and the preprocessing part; every refusal names `<expert>.<key>`.
 */
export function resolveSizedExpert<T extends SizedSettings & Record<string, unknown>, M extends object>(
  expert: string,
  config: Record<string, unknown> | undefined,
  defaults: T,
  presets: Record<string, M>,
): { settings: T; model: M; preprocess: PreprocessConfig } {
  const settings = resolveExpertConfig(expert, config, defaults);
  const model = mergeConfig(`${expert}.model`, pickPreset(expert, presets, settings.size), settings.model);
  return { settings, model, preprocess: preprocessPart(expert, settings) };
}
