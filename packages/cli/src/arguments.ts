import { ConfigError } from '@enecg/common/errors';

/**
 * Typed parsers for command-line values. Each names the option it parses in its ConfigError, so a bad
 * value ends the command with exit code 2 and a message like `--subjects: must be an integer, got 'x'`.
 */

export interface IntegerBounds {
  min?: number;
  max?: number;
}

export function integerArgument(value: string, option: string, bounds: IntegerBounds = {}): number {
  const text = value.trim();
  const number = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(number)) {
    throw new ConfigError(`must be an integer, got '${value}'`, option);
  }
  const { min, max } = bounds;
  if ((min !== undefined && number < min) || (max !== undefined && number > max)) {
    const range = max === undefined ? `>= ${min}` : min === undefined ? `<= ${max}` : `in ${min}..${max}`;
    throw new ConfigError(`must be an integer ${range}, got '${value}'`, option);
  }
  return number;
}

export function positiveIntegerArgument(value: string, option: string): number {
  return integerArgument(value, option, { min: 1 });
}

export function nonNegativeIntegerArgument(value: string, option: string): number {
  return integerArgument(value, option, { min: 0 });
}

export function numberArgument(value: string, option: string): number {
  const number = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(number)) {
    throw new ConfigError(`must be a number, got '${value}'`, option);
  }
  return number;
}

/** `1,2.5,3` -> [1, 2.5, 3]. */
export function numberListArgument(value: string, option: string): number[] {
  return value.split(',').map((part) => {
    const number = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(number)) {
      throw new ConfigError(`'${part}' is not a number (expected a comma-separated list)`, option);
    }
    return number;
  });
}

export function choiceArgument<const T extends string>(
  value: string,
  option: string,
  choices: readonly T[],
): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new ConfigError(
      `must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${value}'`,
      option,
    );
  }
  return value as T;
}

/** A JSON object given on the command line, e.g. `--config '{"leads":["II"]}'`. */
export function jsonObjectArgument(value: string, option: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`must be a JSON object, e.g. '{"leads":["II"]}', got '${value}'`, option);
  }
  return parsed as Record<string, unknown>;
}
