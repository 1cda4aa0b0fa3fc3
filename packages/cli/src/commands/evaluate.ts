import type { Command } from 'commander';
import { choiceArgument, nonNegativeIntegerArgument, positiveIntegerArgument } from '../arguments.ts';
import { formatEvaluationFile } from '../evaluation-output.ts';
import { resolveModelArgument } from '../model-argument.ts';
import { printSummary } from '../output.ts';
import { commandProgress, withProgress } from '../progress.ts';

interface EvaluateCommandOptions {
  warehouse: string;
  model: string;
  split: string;
  replicates: string;
  seed?: string;
  runId?: string;
  json?: boolean;
  quiet?: boolean;
}

export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Evaluate a trained model on the test split: MAE/MSE, accuracy, macro P/R/F1, AUROC with subject-level\n' +
        'bootstrap 95% intervals, against each expert alone and a trivial baseline; gate-weight statistics.\n' +
        'Stores <warehouse>/models/<modelId>/evaluations/<split>-<key>.json once: the key covers model, data,\n' +
        'replicates, seed and code, so evaluating again reuses it and other settings add another file',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .requiredOption('--model <id|dir>', 'model id printed by `enecg train`, or its folder')
    .option('--split <split>', "'test' or 'val'", 'test')
    .option('--replicates <n>', 'bootstrap replicates', '1000')
    .option('--seed <n>', 'bootstrap seed (default: the model seed)')
    .option('--run-id <id>', 'run id recorded in lineage (default: a new one)')
    .option('--json', 'print the summary as JSON (no progress lines)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (options: EvaluateCommandOptions) => {
      const { evaluate } = await import('@enecg/model');
      const { modelId } = resolveModelArgument(options.model, options.warehouse);
      const split = choiceArgument(options.split, '--split', ['test', 'val']);
      const replicates = positiveIntegerArgument(options.replicates, '--replicates');
      const seed =
        options.seed === undefined ? undefined : nonNegativeIntegerArgument(options.seed, '--seed');
      const progress = commandProgress('evaluate', 'replicates', options);
      const summary = await withProgress(progress, () =>
        evaluate({
          warehouse: options.warehouse,
          modelId,
          split,
          replicates,
          seed,
          runId: options.runId,
          onProgress: ({ done, total }) => progress.update(done, total),
        }),
      );
      if (options.json) printSummary({ ...summary }, options);
      else
        process.stdout.write(
          `${await formatEvaluationFile(summary.evaluationPath)}${summary.reused ? 'Stored before, reused' : 'Written to'} ${summary.evaluationPath}\n`,
        );
    });
}
