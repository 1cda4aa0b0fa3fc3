import type { Command } from 'commander';
import {
  choiceArgument,
  jsonObjectArgument,
  nonNegativeIntegerArgument,
  positiveIntegerArgument,
} from '../arguments.ts';
import { describeLazily } from '../help.ts';
import { printSummary } from '../output.ts';
import { commandProgress, withProgress } from '../progress.ts';

interface FeaturesCommandOptions {
  warehouse: string;
  expert: string;
  weights?: string;
  backend: string;
  batchSize: string;
  seed: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
}

export function registerFeaturesCommand(program: Command): void {
  const command = program
    .command('features')
    .description(
      'Run a frozen expert over every ingested record and cache its embeddings under ' +
        '<warehouse>/features/<expert>/<weights>-<preprocessing>/ (skips cached records; resumes after a crash).',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder written by `enecg ingest`')
    .requiredOption('--expert <name>', 'expert name (see above)')
    .option(
      '--weights <file>',
      'safetensors checkpoint by reference parameter names (default: seeded random init)',
    )
    .option('--backend <name>', 'TensorFlow.js backend (see below)', 'auto')
    .option('--batch-size <n>', 'records per forward pass', '16')
    .option('--seed <s>', 'seed of the random init when no --weights', '42')
    .option('--config <json>', 'expert settings as JSON (sizes, leads, length, normalization)')
    .option('--json', 'print a machine-readable summary (no progress lines)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (options: FeaturesCommandOptions) => {
      const seed = nonNegativeIntegerArgument(options.seed, '--seed');
      const batchSize = positiveIntegerArgument(options.batchSize, '--batch-size');
      const config =
        options.config === undefined ? undefined : jsonObjectArgument(options.config, '--config');
      const { BACKEND_CHOICES, cacheFeatures } = await import('@enecg/model');
      const backend = choiceArgument(options.backend, '--backend', BACKEND_CHOICES);
      const progress = commandProgress(`features ${options.expert}`, 'records', options);
      const summary = await withProgress(progress, () =>
        cacheFeatures({
          warehouse: options.warehouse,
          expert: options.expert,
          expertOptions: { seed, weightsPath: options.weights, config },
          batchSize,
          backend,
          onProgress: (p) =>
            progress.update(
              p.seen,
              p.total,
              `${p.computed} computed, ${p.skipped} cached, ${p.quarantined} quarantined`,
            ),
        }),
      );
      printSummary({ ...summary }, options);
    });
  describeLazily(command, async () => {
    const { BACKEND_CHOICES, expertFactories } = await import('@enecg/model');
    const experts = expertFactories().map((f) => `  ${f.name}: ${f.description}`);
    return `\nExperts:\n${experts.join('\n')}\nBackends: ${BACKEND_CHOICES.join(', ')}\n`;
  });
}
