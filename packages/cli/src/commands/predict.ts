import type { PredictResult } from '@enecg/model';
import type { Command } from 'commander';
import { resolveModelArgument } from '../model-argument.ts';
import { formatNumber, formatTable, printSummary } from '../output.ts';

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      'Predict all five tasks for one WFDB record with a trained model, running its frozen experts on the\n' +
        'record; prints each answer with its unit or class name, and each expert gate weight',
    )
    .requiredOption('--model <id|dir>', 'model id printed by `enecg train` (with --warehouse), or its folder')
    .option('--warehouse <dir>', 'warehouse folder holding the model (needed with a model id)')
    .argument('<record>', 'WFDB header file (RECORD.hea)')
    .option('--json', 'print the result as JSON')
    .action(async (record: string, options: { model: string; warehouse?: string; json?: boolean }) => {
      const { modelDir } = resolveModelArgument(options.model, options.warehouse);
      const { predict } = await import('@enecg/model');
      const result = await predict({ modelDir, record });
      if (options.json) {
        printSummary({ modelId: result.modelId, studyId: result.studyId, ...result.predictions }, options);
        return;
      }
      process.stdout.write(await formatPrediction(result, record));
    });
}

/** The answers as a table: each task's value with its unit, or class name with its probability. */
async function formatPrediction(result: PredictResult, record: string): Promise<string> {
  const { TASK_DISPLAY } = await import('@enecg/common');
  const experts = Object.keys(Object.values(result.predictions)[0]?.experts ?? {});
  const rows = Object.entries(result.predictions).map(([task, prediction]) => {
    const display = TASK_DISPLAY[task] ?? { title: task };
    const answer =
      prediction.value !== undefined
        ? `${formatNumber(prediction.value)}${display.unit ? ` ${display.unit}` : ''}`
        : `${display.classes?.[prediction.class ?? -1] ?? `class ${prediction.class}`} ` +
          `(p ${formatNumber(prediction.probabilities?.[prediction.class ?? -1] ?? Number.NaN)})`;
    return [
      display.title,
      answer,
      ...experts.map((name) => formatNumber(prediction.experts[name]?.weight ?? 0)),
    ];
  });
  const study =
    result.studyId > 0 ? `study ${result.studyId}` : 'study id unknown (record name is not a study id)';
  return (
    `Record ${record} (${study}), model ${result.modelId}:\n` +
    formatTable(['task', 'prediction', ...experts.map((name) => `${name} weight`)], rows)
  );
}
