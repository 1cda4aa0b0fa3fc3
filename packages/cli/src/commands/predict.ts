import type { Command } from 'commander';
import { printSummary } from '../output.ts';

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description(
      'Predict all five tasks for one WFDB record with a trained model, running its frozen experts on the\n' +
        'record; prints each expert gate weight',
    )
    .requiredOption('--model <dir>', 'model folder (<warehouse>/models/<modelId>)')
    .argument('<record>', 'WFDB header file (RECORD.hea)')
    .option('--json', 'print the result as JSON')
    .action(async (record: string, options: { model: string; json?: boolean }) => {
      const { predict } = await import('@enecg/model');
      const result = await predict({ modelDir: options.model, record });
      printSummary({ modelId: result.modelId, studyId: result.studyId, ...result.predictions }, options);
    });
}
