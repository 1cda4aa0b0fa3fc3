import { ConfigError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import {
  choiceArgument,
  integerArgument,
  jsonObjectArgument,
  numberListArgument,
  positiveIntegerArgument,
} from '../src/arguments.ts';

function failure(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('argument parsers', () => {
  it('parse valid values', () => {
    expect(integerArgument(' -3 ', '--seed')).toBe(-3);
    expect(positiveIntegerArgument('12', '--subjects')).toBe(12);
    expect(integerArgument('0', '--shard', { min: 0, max: 3 })).toBe(0);
    expect(numberListArgument('1, 2.5,3', '--class-weights')).toEqual([1, 2.5, 3]);
    expect(choiceArgument('gpu', '--queue', ['cpu', 'gpu'])).toBe('gpu');
    expect(jsonObjectArgument('{"length":500}', '--config')).toEqual({ length: 500 });
  });

  it('refuse bad values with a ConfigError that names the option', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => integerArgument('1.5', '--seed'), "--seed: must be an integer, got '1.5'"],
      [() => integerArgument('12abc', '--seed'), "--seed: must be an integer, got '12abc'"],
      [() => positiveIntegerArgument('0', '--subjects'), "--subjects: must be an integer >= 1, got '0'"],
      [
        () => integerArgument('4', '--shard', { min: 0, max: 3 }),
        "--shard: must be an integer in 0..3, got '4'",
      ],
      [() => integerArgument('99999999999999999999', '--seed'), '--seed: must be an integer'],
      [() => numberListArgument('1,,2', '--class-weights'), "--class-weights: '' is not a number"],
      [
        () => choiceArgument('tpu', '--queue', ['cpu', 'gpu']),
        "--queue: must be one of 'cpu', 'gpu', got 'tpu'",
      ],
      [() => jsonObjectArgument('[1]', '--config'), '--config: must be a JSON object'],
    ];
    for (const [parse, message] of cases) {
      const error = failure(parse);
      expect(error.message).toContain(message);
      expect(error.key).toBe(message.split(':')[0]);
    }
  });
});
