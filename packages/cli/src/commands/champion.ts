import type { Command } from 'commander';
import { printSummary } from '../output.ts';
import { requireWarehouse } from './sql.ts';

export function registerChampionCommand(program: Command): void {
  program
    .command('champion')
    .description(
      'The model nightly retraining serves: which one, since when, the decision that made it champion and the latest decision',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print the full answer as JSON')
    .action(async (options: { warehouse: string; json?: boolean }) => {
      const { championStatus, formatTaskComparison } = await import('@enecg/report');
      const status = await championStatus(requireWarehouse(options.warehouse));
      if (options.json) return printSummary({ ...status }, options);
      const { why, lastDecision } = status;
      printSummary(
        {
          champion: status.champion ?? '(none yet: no nightly run has promoted a model)',
          since: status.since,
          why: why ? `${why.reason} (rule ${why.rule}, run ${why.runId})` : null,
          evidence: why?.perTask.map(formatTaskComparison) ?? [],
          lastDecision: lastDecision
            ? `${lastDecision.decidedAt} ${lastDecision.verdict}: challenger ${lastDecision.challenger}, ${lastDecision.reason}`
            : null,
          decisions: status.decisions,
        },
        options,
      );
    });
}
