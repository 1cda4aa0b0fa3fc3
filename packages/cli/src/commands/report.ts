import type { Command } from 'commander';
import { printSummary } from '../output.ts';
import { requireWarehouse } from './sql.ts';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'Render <warehouse>/runs/<run>/report.html (self-contained, with plots) and report.md; a later report\n' +
        'of the run that differs is added as report-<content hash>.html/.md, never written over the first',
    )
    .argument('<run>', 'run id (a pipeline run covers its stage runs)')
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print the summary as JSON')
    .action(async (runId: string, options: { warehouse: string; json?: boolean }) => {
      const { renderReport } = await import('@enecg/report');
      const summary = await renderReport({ warehouse: requireWarehouse(options.warehouse), runId });
      printSummary({ ...summary }, options);
    });
}
