import { ConfigError } from '@enecg/common';

/** How a pretraining runs: everything here but `checkpointEvery` is part of its identity (cache key). */
export interface PretrainConfig {
  /** Optimiser steps (one batch each). */
  steps: number;
  /** Records per step. */
  batchSize: number;
  /** Adam's step size. */
  learningRate: number;
  /** Fraction of each record's units (patches, segments) hidden and reconstructed. */
  maskRatio: number;
  /** Fraction of the training split's subjects kept out of training to measure held-out loss. */
  heldOutFraction: number;
  /**
   * At most this many training ECGs (a seeded choice by study id); 0 means all of them. They are held in
   * memory, preprocessed: 20,000 is 480 MB at MOMENT's default input, 40 MB at DLinear's.
   */
  maxRecords: number;
  /** A resumable checkpoint, and a held-out loss on the curve, every this many steps. */
  checkpointEvery: number;
  /** Gradients are scaled down to this global norm when larger (transformers need it early on). */
  clipNorm: number;
}

export type PretrainConfigInput = Partial<PretrainConfig>;

export const PRETRAIN_DEFAULTS: PretrainConfig = {
  steps: 500,
  batchSize: 16,
  learningRate: 1e-3,
  maskRatio: 0.3,
  heldOutFraction: 0.1,
  maxRecords: 20_000,
  checkpointEvery: 50,
  clipNorm: 1,
};

type Check = (value: number) => boolean;
const positiveInteger: Check = (v) => Number.isInteger(v) && v >= 1;
const RULES: Record<keyof PretrainConfig, [Check, string]> = {
  steps: [positiveInteger, 'a positive integer'],
  batchSize: [positiveInteger, 'a positive integer'],
  learningRate: [(v) => v > 0 && v < 1, 'a number in (0, 1)'],
  maskRatio: [(v) => v > 0 && v < 1, 'a fraction in (0, 1)'],
  heldOutFraction: [(v) => v > 0 && v < 1, 'a fraction in (0, 1)'],
  maxRecords: [(v) => Number.isInteger(v) && v >= 0, 'a non-negative integer (0: all)'],
  checkpointEvery: [positiveInteger, 'a positive integer'],
  clipNorm: [(v) => v > 0, 'a positive number'],
};

/**
 * Merges `input` over the defaults, refusing unknown keys and bad values with a ConfigError naming
 * `<prefix>.<key>`, before anything is read.
 */
export function resolvePretrainConfig(
  input: Record<string, unknown> | undefined,
  prefix = 'pretrain',
): PretrainConfig {
  const merged: Record<string, unknown> = { ...PRETRAIN_DEFAULTS };
  for (const [key, value] of Object.entries(input ?? {})) {
    if (value === undefined) continue;
    const rule = RULES[key as keyof PretrainConfig];
    if (!rule) {
      throw new ConfigError(`unknown setting (known: ${Object.keys(RULES).join(', ')})`, `${prefix}.${key}`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || !rule[0](value)) {
      throw new ConfigError(`${JSON.stringify(value)} is not ${rule[1]}`, `${prefix}.${key}`);
    }
    merged[key] = value;
  }
  return merged as unknown as PretrainConfig;
}
