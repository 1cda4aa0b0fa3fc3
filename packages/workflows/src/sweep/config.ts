import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, hashObject, parseConfig } from '@enecg/common';
import { resolveTrainConfig, TASKS, type TaskKey, type TrainConfig } from '@enecg/model';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadPipelineConfig, type PipelineConfig, validatePipelineConfig } from '../config.ts';

const TaskName = z.enum(TASKS);
const values = <T extends z.ZodType>(item: T) => z.array(item).min(1).optional();

/**
 * The search space: every key lists the values to try; a key left out keeps the base training config's
 * value. `preset` picks which layers get LoRA and train (faithful: LoRA on head layers 1-2 and both gate
 * layers, last head layer frozen; default: the same LoRA placement plus a trainable last head layer).
 * `hiddenSize` is the width of the head layers (and of the gate's unless `gateWidth` is searched);
 * `gateDepth` counts the gate's layers, input and output layer included (2 = the reference's gate).
 */
const SearchSpace = z.strictObject({
  preset: values(z.enum(['faithful', 'default'])),
  loraRank: values(z.number().int().positive()),
  loraAlpha: values(z.number().positive()),
  hiddenSize: values(z.number().int().positive()),
  gateWidth: values(z.number().int().positive()),
  gateDepth: values(z.number().int().min(2)),
  gateLeads: values(z.array(z.string().min(1)).min(1)),
  gateLength: values(z.number().int().positive()),
  topK: values(z.number().int().nonnegative()),
  learningRate: values(z.number().positive()),
  tasks: values(z.array(TaskName).min(1)),
});
export type SearchSpace = z.output<typeof SearchSpace>;

/** The fixed order in which keys vary in a grid (first key slowest) and appear in trial tables. */
export const SEARCH_KEYS = [
  'preset',
  'loraRank',
  'loraAlpha',
  'hiddenSize',
  'gateWidth',
  'gateDepth',
  'gateLeads',
  'gateLength',
  'topK',
  'learningRate',
  'tasks',
] as const satisfies ReadonlyArray<keyof SearchSpace>;
export type SearchKey = (typeof SEARCH_KEYS)[number];
export type TrialParams = Partial<{ [K in SearchKey]: NonNullable<SearchSpace[K]>[number] }>;

export const SweepConfigSchema = z.strictObject({
  /** The pipeline config every trial starts from: inline, or a path relative to this file. */
  base: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
  search: z.strictObject({
    method: z.enum(['grid', 'random']).default('grid'),
    /** Random search: how many distinct grid points to draw (seeded, without replacement). */
    samples: z.number().int().positive().optional(),
    seed: z.number().int().nonnegative().default(1),
    space: SearchSpace,
  }),
  /** Trials in flight at once (each is one child workflow). */
  maxParallel: z.number().int().min(1).max(64).default(2),
  /**
   * Successive halving in one rung: every trial first trains for `screenEpochs`; a trial whose best
   * validation loss is worse than the best of its loss group by more than `margin` x |best| stops there.
   */
  earlyStopping: z
    .union([
      z.literal(false),
      z.strictObject({
        screenEpochs: z.number().int().positive().default(1),
        margin: z.number().nonnegative().default(0.25),
      }),
    ])
    .default({ screenEpochs: 1, margin: 0.25 }),
  /** How the configuration is chosen, on validation metrics only. */
  selection: z
    .strictObject({
      task: TaskName.default('report_label'),
      /** Default: auroc for classification, mae for regression. */
      metric: z.string().min(1).optional(),
      /** Efficiency targets a chosen trial must meet (absent = no target). */
      maxPeakTensorMiB: z.number().positive().optional(),
      minEcgsPerSecond: z.number().positive().optional(),
    })
    .prefault({}),
  throughput: z
    .strictObject({
      rows: z.number().int().positive().default(1024),
      passes: z.number().int().positive().default(5),
    })
    .prefault({}),
});
export type SweepConfigInput = z.input<typeof SweepConfigSchema>;

/** One trial: its params, its full training config, and the gate input it needs cached. */
export interface TrialSpec {
  trialId: string;
  params: TrialParams;
  /** The training stage's config (seed included), validated. */
  training: Record<string, unknown>;
  gateInput: { leads: string[]; length: number };
  tasks: TaskKey[];
  /** The epoch budget of a full training (resolved from the preset when the base config leaves it out). */
  maxEpochs: number;
  /** Trials whose validation losses are comparable (same tasks, weights and target scaling). */
  lossGroup: string;
}

/** A validated sweep, ready to start: everything the workflow needs, and nothing left to check. */
export interface SweepPlan {
  sweepId: string;
  pipeline: PipelineConfig;
  trials: TrialSpec[];
  maxParallel: number;
  earlyStopping: false | { screenEpochs: number; margin: number };
  selection: { task: TaskKey; metric: string; maxPeakTensorMiB?: number; minEcgsPerSecond?: number };
  throughput: { rows: number; passes: number };
  search: { method: 'grid' | 'random'; seed: number; samples?: number; space: SearchSpace };
}

const LOWER_IS_BETTER = new Set(['mae', 'mse']);
const METRICS_BY_KIND = {
  regression: ['mae', 'mse'],
  classification: ['accuracy', 'precision', 'recall', 'f1', 'auroc'],
};
const REGRESSION_TASKS = new Set<TaskKey>(['rr_interval', 'age']);

export function metricIsLowerBetter(metric: string): boolean {
  return LOWER_IS_BETTER.has(metric);
}

/**
 * Validates a sweep completely before any work starts: the base pipeline config, the space, and every
 * trial's training config (a bad value is named by its search key); then expands the trials.
 */
export async function validateSweepConfig(
  raw: unknown,
  source = 'sweep config',
  baseDir = process.cwd(),
): Promise<SweepPlan> {
  const config = parseConfig(SweepConfigSchema, raw, source);
  const pipeline =
    typeof config.base === 'string'
      ? await loadPipelineConfig(isAbsolute(config.base) ? config.base : resolve(baseDir, config.base))
      : validatePipelineConfig(config.base, `${source} (base)`, baseDir);
  const { search } = config;
  if (search.method === 'random' && search.samples === undefined) {
    throw new ConfigError('random search needs the number of samples', 'search.samples');
  }
  if (search.method === 'grid' && search.samples !== undefined) {
    throw new ConfigError(
      'only random search draws samples; remove it or use method: random',
      'search.samples',
    );
  }
  const isRegression = REGRESSION_TASKS.has(config.selection.task);
  const metric = config.selection.metric ?? (isRegression ? 'mae' : 'auroc');
  if (!METRICS_BY_KIND[isRegression ? 'regression' : 'classification'].includes(metric)) {
    throw new ConfigError(`"${metric}" is not a metric of ${config.selection.task}`, 'selection.metric');
  }
  const points = expandSearch(search);
  const trials = points.map((params) => trialSpec(pipeline, params));
  const selectable = trials.some((trial) => trial.tasks.includes(config.selection.task));
  if (!selectable) {
    throw new ConfigError(`no trial trains ${config.selection.task}`, 'selection.task');
  }
  const plan: Omit<SweepPlan, 'sweepId'> = {
    pipeline,
    trials,
    maxParallel: config.maxParallel,
    earlyStopping: config.earlyStopping,
    selection: { ...config.selection, metric },
    throughput: config.throughput,
    search,
  };
  // Same sweep (data location, space, rules) = same id, so starting it again resumes it.
  return { sweepId: `sweep-${hashObject(plan).slice(0, 12)}`, ...plan };
}

export async function loadSweepConfig(path: string): Promise<SweepPlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the sweep config file ${path}`, 'config');
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid YAML: ${(error as Error).message}`, 'config');
  }
  return validateSweepConfig(raw ?? {}, path, dirname(resolve(path)));
}

/** Grid: every combination, first key slowest. Random: `samples` distinct grid points, seeded. */
export function expandSearch(search: SweepPlan['search']): TrialParams[] {
  const keys = SEARCH_KEYS.filter((key) => search.space[key] !== undefined);
  let grid: TrialParams[] = [{}];
  for (const key of keys) {
    const options = search.space[key] as unknown[];
    grid = grid.flatMap((point) => options.map((value) => ({ ...point, [key]: value })));
  }
  const unique = [...new Map(grid.map((point) => [hashObject(point), point])).values()];
  if (search.method === 'grid') return unique;
  const samples = search.samples as number;
  if (samples > unique.length) {
    throw new ConfigError(
      `${samples} samples but the space has only ${unique.length} points`,
      'search.samples',
    );
  }
  return seededShuffle(unique, search.seed).slice(0, samples);
}

/** Fisher-Yates with a 32-bit xorshift generator: the same seed draws the same trials everywhere. */
function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const SEARCH_KEY_OF_TRAIN_KEY: Record<string, SearchKey> = {
  preset: 'preset',
  'lora.rank': 'loraRank',
  'lora.alpha': 'loraAlpha',
  hiddenSize: 'hiddenSize',
  'gate.leads': 'gateLeads',
  'gate.length': 'gateLength',
  'gate.topK': 'topK',
  'gate.width': 'gateWidth',
  'gate.depth': 'gateDepth',
  learningRate: 'learningRate',
  tasks: 'tasks',
};

function trialSpec(pipeline: PipelineConfig, params: TrialParams): TrialSpec {
  const base = pipeline.training as Record<string, Record<string, unknown> | unknown>;
  const baseLora = (base.lora ?? {}) as Record<string, unknown>;
  const baseGate = (base.gate ?? {}) as Record<string, unknown>;
  const training: Record<string, unknown> = {
    ...base,
    seed: pipeline.seed,
    ...(params.preset === undefined ? {} : { preset: params.preset }),
    ...(params.hiddenSize === undefined ? {} : { hiddenSize: params.hiddenSize }),
    ...(params.learningRate === undefined ? {} : { learningRate: params.learningRate }),
    ...(params.tasks === undefined ? {} : { tasks: params.tasks }),
    lora: {
      ...baseLora,
      ...(params.loraRank === undefined ? {} : { rank: params.loraRank }),
      ...(params.loraAlpha === undefined ? {} : { alpha: params.loraAlpha }),
    },
    gate: {
      ...baseGate,
      ...(params.gateLeads === undefined ? {} : { leads: params.gateLeads }),
      ...(params.gateLength === undefined ? {} : { length: params.gateLength }),
      ...(params.topK === undefined ? {} : { topK: params.topK }),
      ...(params.gateWidth === undefined ? {} : { width: params.gateWidth }),
      ...(params.gateDepth === undefined ? {} : { depth: params.gateDepth }),
    },
  };
  let resolved: TrainConfig;
  try {
    resolved = resolveTrainConfig(training);
  } catch (error) {
    if (error instanceof ConfigError && error.key && SEARCH_KEY_OF_TRAIN_KEY[error.key]) {
      throw new ConfigError(error.message, `search.space.${SEARCH_KEY_OF_TRAIN_KEY[error.key]}`);
    }
    throw error;
  }
  if (resolved.gate.topK > pipeline.experts.length) {
    throw new ConfigError(
      `top-k ${resolved.gate.topK} exceeds the ${pipeline.experts.length} experts of the base config`,
      'search.space.topK',
    );
  }
  return {
    trialId: `t${hashObject(params).slice(0, 10)}`,
    params,
    training,
    gateInput: { leads: resolved.gate.leads, length: resolved.gate.length },
    tasks: resolved.tasks,
    maxEpochs: resolved.maxEpochs,
    lossGroup: hashObject({
      tasks: resolved.tasks,
      lossWeights: resolved.lossWeights,
      standardizeTargets: resolved.standardizeTargets,
    }).slice(0, 8),
  };
}
