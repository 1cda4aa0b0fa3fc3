import { ConfigError } from '@enecg/common';
import { BACKEND_CHOICES, cacheFeatures, expertFactories, parseBackendChoice } from '@enecg/model';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';

interface FeaturesCommandOptions {
  warehouse: string;
  expert: string;
  weights?: string;
  backend: string;
  batchSize: string;
  seed: string;
  config?: string;
  json?: boolean;
}

function integerArgument(value: string, key: string): number {
  if (!/^\d+$/.test(value.trim()))
    throw new ConfigError(`must be a non-negative integer, got '${value}'`, key);
  return Number(value);
}

function configArgument(value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below with the key named
  }
  throw new ConfigError(
    `must be a JSON object, e.g. '{"leads":["II"],"length":500}', got '${value}'`,
    'config',
  );
}

export function registerFeaturesCommand(program: Command): void {
  const experts = expertFactories()
    .map((f) => `  ${f.name}: ${f.description}`)
    .join('\n');
  program
    .command('features')
    .description(
      'Run a frozen expert over every ingested record and cache its embeddings under ' +
        '<warehouse>/features/<expert>/<weights>-<preprocessing>/ (skips cached records; resumes after a crash).\n' +
        `Experts:\n${experts}`,
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder written by `enecg ingest`')
    .requiredOption('--expert <name>', 'expert name (see above)')
    .option(
      '--weights <file>',
      'safetensors checkpoint by reference parameter names (default: seeded random init)',
    )
    .option('--backend <name>', `TensorFlow.js backend: ${BACKEND_CHOICES.join(', ')}`, 'auto')
    .option('--batch-size <n>', 'records per forward pass', '16')
    .option('--seed <s>', 'seed of the random init when no --weights', '42')
    .option('--config <json>', 'expert settings as JSON (sizes, leads, length, normalization)')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: FeaturesCommandOptions) => {
      const summary = await cacheFeatures({
        warehouse: options.warehouse,
        expert: options.expert,
        expertOptions: {
          seed: integerArgument(options.seed, 'seed'),
          weightsPath: options.weights,
          config: configArgument(options.config),
        },
        batchSize: integerArgument(options.batchSize, 'batch-size'),
        backend: parseBackendChoice(options.backend, 'backend'),
        onProgress: options.json
          ? undefined
          : (p) =>
              process.stderr.write(
                `enecg: features ${p.seen} read, ${p.computed} computed, ${p.skipped} cached\r`,
              ),
      });
      if (!options.json) process.stderr.write('\n');
      printSummary({ ...summary }, options);
    });
}
