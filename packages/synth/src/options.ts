import { ConfigError } from '@enecg/common';
import { CLASS_COUNT, DEFAULT_CLASS_WEIGHTS } from './classes.ts';

export type SynthLayout = 'v1' | 'demo';

/** How often values are missing, each a probability in [0, 1]. */
export interface MissingRates {
  /** rr_interval written as 29999. */
  rrInterval: number;
  /** Any other interval or axis written as 29999. */
  measurement: number;
  /** An ECG without a potassium result within 12 hours. */
  potassium: number;
  /** An ECG without a row in waveform_note_links.csv. */
  noteLink: number;
}

export interface SynthOptions {
  /** Number of subjects (positive integer). */
  subjects: number;
  /** Output folder; created if absent, must be empty unless `overwrite`. */
  outDir: string;
  seed?: number;
  /** `v1`: MIMIC-IV-ECG v1.0 (group folders, 8-digit study ids); `demo`: the v0.1 demo layout. */
  layout?: SynthLayout;
  /** Relative frequency of the 15 arrhythmia classes. */
  classWeights?: readonly number[];
  /** Share of subjects with more than one ECG. */
  multiEcgFraction?: number;
  maxEcgsPerSubject?: number;
  missing?: Partial<MissingRates>;
  /** Share of potassium episodes that are hypokalaemic / hyperkalaemic. */
  hypokalemiaFraction?: number;
  hyperkalemiaFraction?: number;
  /** Replace the dataset files of an earlier run in `outDir`. */
  overwrite?: boolean;
  /** When given, a lineage event is appended to this warehouse. */
  warehouse?: string;
  runId?: string;
}

export interface ResolvedSynthOptions {
  subjects: number;
  outDir: string;
  seed: number;
  layout: SynthLayout;
  classWeights: readonly number[];
  multiEcgFraction: number;
  maxEcgsPerSubject: number;
  missing: MissingRates;
  hypokalemiaFraction: number;
  hyperkalemiaFraction: number;
  overwrite: boolean;
  warehouse: string | undefined;
  runId: string | undefined;
}

export const DEFAULT_SEED = 42;
export const DEFAULT_MISSING: MissingRates = {
  rrInterval: 0.02,
  measurement: 0.01,
  potassium: 0.3,
  noteLink: 0.2,
};
const MAX_SUBJECTS = 1_000_000;
/** Study ids are drawn without repetition from 10 million 8- or 9-digit values; stay well inside. */
const MAX_STUDIES = 5_000_000;

function positiveInteger(value: unknown, key: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`, key);
  }
  return value;
}

function probability(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(`must be a probability in [0, 1], got ${JSON.stringify(value)}`, key);
  }
  return value;
}

/** Checks every option before any file is written; a bad value throws a ConfigError naming its key. */
export function resolveSynthOptions(options: SynthOptions): ResolvedSynthOptions {
  const subjects = positiveInteger(options.subjects, 'subjects', MAX_SUBJECTS);
  if (typeof options.outDir !== 'string' || options.outDir.trim() === '') {
    throw new ConfigError('must name an output folder', 'outDir');
  }
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new ConfigError(`must be a non-negative integer, got ${JSON.stringify(seed)}`, 'seed');
  }
  const layout = options.layout ?? 'v1';
  if (layout !== 'v1' && layout !== 'demo') {
    throw new ConfigError(`must be 'v1' or 'demo', got ${JSON.stringify(layout)}`, 'layout');
  }
  const classWeights = options.classWeights ?? DEFAULT_CLASS_WEIGHTS;
  if (
    classWeights.length !== CLASS_COUNT ||
    classWeights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0) ||
    classWeights.every((w) => w === 0)
  ) {
    throw new ConfigError(
      `must be ${CLASS_COUNT} non-negative numbers, not all zero, got ${JSON.stringify(classWeights)}`,
      'classWeights',
    );
  }
  const missing = { ...DEFAULT_MISSING, ...options.missing };
  for (const key of Object.keys(DEFAULT_MISSING) as Array<keyof MissingRates>) {
    probability(missing[key], `missing.${key}`);
  }
  const hypokalemiaFraction = probability(options.hypokalemiaFraction ?? 0.09, 'hypokalemiaFraction');
  const hyperkalemiaFraction = probability(options.hyperkalemiaFraction ?? 0.09, 'hyperkalemiaFraction');
  if (hypokalemiaFraction + hyperkalemiaFraction > 1) {
    throw new ConfigError(
      'hypokalemiaFraction + hyperkalemiaFraction must not exceed 1',
      'hyperkalemiaFraction',
    );
  }
  const maxEcgsPerSubject = positiveInteger(options.maxEcgsPerSubject ?? 8, 'maxEcgsPerSubject', 200);
  if (subjects * maxEcgsPerSubject > MAX_STUDIES) {
    throw new ConfigError(
      `subjects x maxEcgsPerSubject (${subjects} x ${maxEcgsPerSubject}) must not exceed ${MAX_STUDIES}, ` +
        'the share of the study id space that can be drawn without repetition',
      'subjects',
    );
  }
  return {
    subjects,
    outDir: options.outDir,
    seed,
    layout,
    classWeights,
    multiEcgFraction: probability(options.multiEcgFraction ?? 0.45, 'multiEcgFraction'),
    maxEcgsPerSubject,
    missing,
    hypokalemiaFraction,
    hyperkalemiaFraction,
    overwrite: options.overwrite ?? false,
    warehouse: options.warehouse,
    runId: options.runId,
  };
}
