import { readFile } from 'node:fs/promises';
import { ConfigError } from '@enecg/common/errors';
import type { Command } from 'commander';
import { choiceArgument, nonNegativeIntegerArgument, positiveIntegerArgument } from '../arguments.ts';
import { describeLazily } from '../help.ts';
import { printSummary } from '../output.ts';
import { commandProgress, withProgress } from '../progress.ts';

interface PretrainCommandOptions {
  warehouse: string;
  expert: string;
  config?: string;
  weights?: string;
  steps?: string;
  seed: string;
  backend: string;
  json?: boolean;
  quiet?: boolean;
}

/** The --config file: the expert's entry of a pipeline config, as JSON (`config` and `pretrain`). */
interface PretrainFile {
  config?: Record<string, unknown>;
  pretrain?: Record<string, unknown>;
}

async function readPretrainFile(path: string): Promise<PretrainFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read ${path} as JSON (${(error as Error).message})`, 'config');
  }
  const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isObject(parsed)) throw new ConfigError(`${path} does not hold a JSON object`, 'config');
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (key !== 'config' && key !== 'pretrain') {
      throw new ConfigError(`${path}: unknown key (known: config, pretrain)`, key);
    }
    if (!isObject(value)) throw new ConfigError(`${path}: expected an object`, key);
  }
  return parsed as PretrainFile;
}

export function registerPretrainCommand(program: Command): void {
  const command = program
    .command('pretrain')
    .description(
      "Self-supervised pretraining of an expert on the warehouse's training-split ECGs (never their labels):\n" +
        'masked reconstruction with the tensors the expert loads. Writes\n' +
        '<warehouse>/pretrain/<expert>/<id>/{checkpoint.safetensors, manifest.json}; resumes a killed run\n' +
        'from its last checkpoint, reuses an identical finished one. Name the checkpoint as the\n' +
        "expert's weights (`enecg features --weights`, `experts: [{ weights }]`).",
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder with ingested records and labels (for the split)')
    .requiredOption('--expert <name>', 'expert to pretrain (see below)')
    .option(
      '--config <file>',
      'JSON: {"config": expert settings (size, leads, length), "pretrain": {"steps", "batchSize", ...}}',
    )
    .option('--weights <file>', 'continue from this safetensors checkpoint (e.g. a converted published one)')
    .option('--steps <n>', 'optimiser steps (overrides the file; default 500)')
    .option('--seed <s>', 'seed of the init, the batch order and the masks', '42')
    .option(
      '--backend <name>',
      'TensorFlow.js backend: autodiff needs the native one (auto picks it)',
      'auto',
    )
    .option('--json', 'print a machine-readable summary (no progress lines)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (options: PretrainCommandOptions) => {
      const seed = nonNegativeIntegerArgument(options.seed, '--seed');
      const file = options.config === undefined ? {} : await readPretrainFile(options.config);
      const pretrain = { ...file.pretrain };
      if (options.steps !== undefined) pretrain.steps = positiveIntegerArgument(options.steps, '--steps');
      const { BACKEND_CHOICES, pretrainExpert } = await import('@enecg/model');
      const backend = choiceArgument(options.backend, '--backend', BACKEND_CHOICES);
      const progress = commandProgress(`pretrain ${options.expert}`, 'steps', options);
      const summary = await withProgress(progress, () =>
        pretrainExpert({
          warehouse: options.warehouse,
          expert: options.expert,
          ...(file.config ? { expertConfig: file.config } : {}),
          config: pretrain,
          ...(options.weights ? { weightsPath: options.weights } : {}),
          seed,
          backend,
          onProgress: (p) =>
            progress.update(
              p.step,
              p.steps,
              `train loss ${p.trainLoss.toFixed(4)}, held-out loss ${p.heldOutLoss.toFixed(4)}`,
            ),
        }),
      );
      printSummary({ ...summary }, options);
    });
  describeLazily(command, async () => {
    const { pretrainableExperts, PRETRAIN_DEFAULTS } = await import('@enecg/model');
    const defaults = Object.entries(PRETRAIN_DEFAULTS)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ');
    return `\nPretrainable experts: ${pretrainableExperts().join(', ')}\n"pretrain" settings and their defaults: ${defaults}\n`;
  });
}
