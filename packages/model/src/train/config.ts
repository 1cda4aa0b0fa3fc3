import { ConfigError, STANDARD_LEADS } from '@enecg/common';
import { TASKS, type TaskKey } from '../evaluation-types.ts';

export interface LoraSettings {
  rank: number;
  alpha: number;
  dropout: number;
}

/**
 * Everything that shapes a trained model. Two presets: `faithful` reproduces the reference (LoRA on
 * head layers 1-2 and both gate layers, the rest frozen, including the random last head layer; raw
 * regression targets; 5 epochs at lr 1e-4), `default` is ours (trainable last head layer,
 * standardised regression targets, more epochs with early stopping on the validation split).
 */
export interface TrainConfig {
  preset: 'faithful' | 'default';
  tasks: TaskKey[];
  /** Relative weight of each task's loss in the multi-task sum (missing = 1). */
  lossWeights: Partial<Record<TaskKey, number>>;
  hiddenSize: number;
  lora: LoraSettings;
  /** Train the last head layer fully (ours) or leave it at its random init (the reference). */
  trainLastHeadLayer: boolean;
  /** Regression targets scaled to zero mean and unit variance on the training split. */
  standardizeTargets: boolean;
  gate: {
    /** Which leads and how many samples the gate sees; must match the cached gate input's width. */
    leads: string[];
    length: number;
    /** Keep only the k largest gate logits per sample before the softmax (0 = all experts). */
    topK: number;
    /** Width of the gate's hidden layers (absent = `hiddenSize`). */
    width?: number;
    /** Gate layers, input and output layer included (absent = 2, the reference's gate). */
    depth?: number;
  };
  learningRate: number;
  weightDecay: number;
  batchSize: number;
  maxEpochs: number;
  /** Epochs without validation improvement before stopping (0 = never stop early). */
  patience: number;
  seed: number;
}

const PRESETS: Record<TrainConfig['preset'], TrainConfig> = {
  faithful: {
    preset: 'faithful',
    tasks: [...TASKS],
    lossWeights: {},
    hiddenSize: 256,
    lora: { rank: 8, alpha: 32, dropout: 0.05 },
    trainLastHeadLayer: false,
    standardizeTargets: false,
    gate: { leads: ['II'], length: 5000, topK: 0 },
    learningRate: 1e-4,
    weightDecay: 0.01,
    batchSize: 16,
    maxEpochs: 5,
    patience: 0,
    seed: 42,
  },
  default: {
    preset: 'default',
    tasks: [...TASKS],
    lossWeights: {},
    hiddenSize: 256,
    lora: { rank: 8, alpha: 32, dropout: 0.05 },
    trainLastHeadLayer: true,
    standardizeTargets: true,
    gate: { leads: ['II'], length: 5000, topK: 0 },
    learningRate: 1e-3,
    weightDecay: 0.01,
    batchSize: 16,
    maxEpochs: 20,
    patience: 3,
    seed: 42,
  },
};

export type TrainConfigInput = Partial<Omit<TrainConfig, 'lora' | 'gate'>> & {
  lora?: Partial<LoraSettings>;
  gate?: Partial<TrainConfig['gate']>;
};

const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': [
    'preset',
    'tasks',
    'lossWeights',
    'hiddenSize',
    'lora',
    'trainLastHeadLayer',
    'standardizeTargets',
    'gate',
    'learningRate',
    'weightDecay',
    'batchSize',
    'maxEpochs',
    'patience',
    'seed',
  ],
  lora: ['rank', 'alpha', 'dropout'],
  gate: ['leads', 'length', 'topK', 'width', 'depth'],
};

/** Upper bounds on sizes: far above any sensible run, low enough that a typo cannot exhaust memory. */
const MAX = {
  hiddenSize: 8192,
  loraRank: 1024,
  gateLength: 120_000,
  gateWidth: 8192,
  gateDepth: 16,
  batchSize: 65_536,
  maxEpochs: 100_000,
} as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A misspelt key would otherwise be ignored silently and the run would train with the default. */
function refuseUnknownKeys(input: unknown): void {
  if (!isPlainObject(input)) throw new ConfigError('must be a mapping of keys to values', 'training');
  const sections: Record<string, readonly string[]> = { ...KNOWN_KEYS, lossWeights: TASKS };
  for (const [section, known] of Object.entries(sections)) {
    const value = section === '' ? input : input[section];
    if (value === undefined) continue;
    if (!isPlainObject(value)) throw new ConfigError('must be a mapping of keys to values', section);
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const path = section === '' ? key : `${section}.${key}`;
        throw new ConfigError(`unknown key (known: ${known.join(', ')})`, path);
      }
    }
  }
}

/** Fills a preset with overrides and refuses anything invalid before any work starts. */
export function resolveTrainConfig(input: TrainConfigInput = {}): TrainConfig {
  refuseUnknownKeys(input);
  const presetName = input.preset ?? 'default';
  const preset = Object.hasOwn(PRESETS, presetName) ? PRESETS[presetName] : undefined;
  if (!preset) throw new ConfigError(`unknown preset "${presetName}" (faithful | default)`, 'preset');
  const config: TrainConfig = {
    ...preset,
    ...input,
    preset: presetName,
    lora: { ...preset.lora, ...input.lora },
    gate: { ...preset.gate, ...input.gate },
    lossWeights: { ...preset.lossWeights, ...input.lossWeights },
    tasks: Array.isArray(input.tasks ?? preset.tasks) ? [...(input.tasks ?? preset.tasks)] : input.tasks!,
  };
  validate(config);
  return config;
}

function validate(config: TrainConfig): void {
  if (!Array.isArray(config.tasks)) throw new ConfigError('must be a list of tasks', 'tasks');
  if (config.tasks.length === 0) throw new ConfigError('at least one task is needed', 'tasks');
  for (const task of config.tasks) {
    if (!(TASKS as readonly string[]).includes(task)) {
      throw new ConfigError(`unknown task "${task}" (${TASKS.join(', ')})`, 'tasks');
    }
  }
  if (new Set(config.tasks).size !== config.tasks.length) {
    throw new ConfigError('tasks must not repeat', 'tasks');
  }
  for (const [task, weight] of Object.entries(config.lossWeights)) {
    if (!(typeof weight === 'number' && weight >= 0 && Number.isFinite(weight))) {
      throw new ConfigError('must be a finite number >= 0', `lossWeights.${task}`);
    }
  }
  positiveInteger(config.hiddenSize, 'hiddenSize', MAX.hiddenSize);
  positiveInteger(config.lora.rank, 'lora.rank', Math.min(MAX.loraRank, config.hiddenSize));
  positiveNumber(config.lora.alpha, 'lora.alpha');
  if (!(config.lora.dropout >= 0 && config.lora.dropout < 1)) {
    throw new ConfigError('must be in [0, 1)', 'lora.dropout');
  }
  for (const key of ['trainLastHeadLayer', 'standardizeTargets'] as const) {
    if (typeof config[key] !== 'boolean') throw new ConfigError('must be true or false', key);
  }
  const { leads } = config.gate;
  if (!Array.isArray(leads) || leads.length === 0) throw new ConfigError('at least one lead', 'gate.leads');
  leads.forEach((lead, index) => {
    if (!(STANDARD_LEADS as readonly unknown[]).includes(lead)) {
      throw new ConfigError(
        `unknown lead ${JSON.stringify(lead)} (${STANDARD_LEADS.join(', ')})`,
        `gate.leads.${index}`,
      );
    }
  });
  if (new Set(leads).size !== leads.length) throw new ConfigError('leads must not repeat', 'gate.leads');
  positiveInteger(config.gate.length, 'gate.length', MAX.gateLength);
  if (!(Number.isInteger(config.gate.topK) && config.gate.topK >= 0)) {
    throw new ConfigError('must be an integer >= 0', 'gate.topK');
  }
  if (config.gate.width !== undefined) positiveInteger(config.gate.width, 'gate.width', MAX.gateWidth);
  if (
    config.gate.depth !== undefined &&
    !(Number.isInteger(config.gate.depth) && config.gate.depth >= 2 && config.gate.depth <= MAX.gateDepth)
  ) {
    throw new ConfigError(`must be an integer in [2, ${MAX.gateDepth}]`, 'gate.depth');
  }
  positiveNumber(config.learningRate, 'learningRate');
  if (
    !(
      typeof config.weightDecay === 'number' &&
      config.weightDecay >= 0 &&
      Number.isFinite(config.weightDecay)
    )
  )
    throw new ConfigError('must be a finite number >= 0', 'weightDecay');
  positiveInteger(config.batchSize, 'batchSize', MAX.batchSize);
  positiveInteger(config.maxEpochs, 'maxEpochs', MAX.maxEpochs);
  if (!(Number.isInteger(config.patience) && config.patience >= 0)) {
    throw new ConfigError('must be an integer >= 0', 'patience');
  }
  if (!(Number.isInteger(config.seed) && config.seed >= 0)) {
    throw new ConfigError('must be an integer >= 0', 'seed');
  }
}

function positiveInteger(value: number, key: string, max: number): void {
  if (!(Number.isInteger(value) && value > 0 && value <= max)) {
    throw new ConfigError(`must be an integer in [1, ${max}]`, key);
  }
}

/** Refuses a top-k the gate cannot keep: more experts than the ensemble has (0 keeps them all). */
export function checkTopK(config: TrainConfig, experts: number): void {
  if (config.gate.topK > experts) {
    throw new ConfigError(`top-k ${config.gate.topK} exceeds the ${experts} experts`, 'gate.topK');
  }
}

function positiveNumber(value: number, key: string): void {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new ConfigError('must be a number > 0', key);
  }
}

/** Training rows from which starting worker threads (about a second each) pays off by default. */
const PARALLEL_FROM_ROWS = 2048;

/**
 * Threads a fit runs on: each trains whole shards of tasks (see `partitionTasks`), so no more than
 * `shards` are used. Results never depend on it, so it is not part of `TrainConfig` (nor of the model
 * id). Absent: one per shard up to the machine's cores for a training split of at least 2,048 rows,
 * else one.
 */
export function resolveThreads(
  value: number | undefined,
  shards: number,
  trainRows: number,
  cores: number,
): number {
  checkThreads(value);
  if (value === undefined) return trainRows >= PARALLEL_FROM_ROWS ? Math.max(1, Math.min(shards, cores)) : 1;
  return Math.min(value, shards);
}

/** Refuses a thread count that is not a positive integer (absent = automatic). */
export function checkThreads(value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new ConfigError('must be an integer >= 1', 'threads');
  }
}
