import { readFile } from 'node:fs/promises';
import { ConfigError } from '@enecg/common/errors';
import type { TrainConfigInput } from '@enecg/model';
import type { Command } from 'commander';
import { nonNegativeIntegerArgument, positiveIntegerArgument } from '../arguments.ts';
import { printSummary } from '../output.ts';
import { commandProgress, withProgress } from '../progress.ts';

interface TrainCommandOptions {
  warehouse: string;
  preset?: string;
  config?: string;
  experts?: string;
  tasks?: string;
  seed?: string;
  crossValidate?: boolean;
  runId?: string;
  threads?: string;
  json?: boolean;
  quiet?: boolean;
}

async function readConfigFile(path: string): Promise<TrainConfigInput> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as TrainConfigInput;
  } catch (error) {
    throw new ConfigError(`cannot read ${path} as JSON (${(error as Error).message})`, 'config');
  }
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'Train LoRA heads and a Mixture-of-Experts gate per task on the cached expert features and labels;\n' +
        'writes <warehouse>/models/<modelId>/{model.safetensors, model.json}',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--preset <name>', "'default' (ours) or 'faithful' (the reference's setup)")
    .option(
      '--config <file>',
      'training config overrides (JSON), e.g. {"maxEpochs": 10, "lora": {"rank": 4}}',
    )
    .option(
      '--experts <list>',
      'comma-separated experts, `name` or `name/<feature set key>` (default: all cached)',
    )
    .option('--tasks <list>', 'comma-separated tasks (default: all five in one run)')
    .option('--seed <n>', 'seed for init, dropout and shuffling')
    .option(
      '--cross-validate',
      'also run k-fold cross-validation (a fresh model per fold) over non-test rows',
    )
    .option('--run-id <id>', 'run id recorded in lineage (default: a new one)')
    .option('--threads <n>', 'threads to train on (default: automatic; the model does not depend on it)')
    .option('--json', 'print the summary as JSON (no progress lines)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (options: TrainCommandOptions) => {
      const config: TrainConfigInput = options.config ? await readConfigFile(options.config) : {};
      if (options.preset !== undefined) config.preset = options.preset as TrainConfigInput['preset'];
      if (options.tasks !== undefined) config.tasks = list(options.tasks) as TrainConfigInput['tasks'];
      if (options.seed !== undefined) config.seed = nonNegativeIntegerArgument(options.seed, '--seed');
      const { train } = await import('@enecg/model');
      const threads =
        options.threads === undefined ? undefined : positiveIntegerArgument(options.threads, '--threads');
      const progress = commandProgress('train', 'epochs', options);
      let maxEpochs: number | undefined;
      const summary = await withProgress(progress, async () => {
        const trained = await train({
          warehouse: options.warehouse,
          config,
          experts: list(options.experts),
          crossValidate: options.crossValidate ?? false,
          runId: options.runId,
          threads,
          onProgress: (p) => {
            maxEpochs = p.maxEpochs;
            progress.update(
              p.epoch,
              p.maxEpochs,
              `${p.fits > 1 ? `fit ${p.fit}/${p.fits}, ` : ''}train loss ${p.trainLoss.toFixed(4)}, ` +
                `val loss ${p.valLoss.toFixed(4)}`,
            );
          },
        });
        // Early stopping ended the last fit before its last epoch: the line ends at 100 %, saying why.
        if (maxEpochs !== undefined && trained.epochsRun < maxEpochs)
          progress.update(
            trained.epochsRun,
            trained.epochsRun,
            `early stop, best epoch ${trained.bestEpoch}`,
          );
        return trained;
      });
      printSummary({ ...summary }, { json: options.json });
    });
}
