import type { SweepResult } from '@enecg/workflows';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';
import { connectCliClient } from '../temporal-client.ts';

const log = (line: string) => process.stderr.write(`enecg: ${line}\n`);

function resultSummary(result: SweepResult): Record<string, unknown> {
  return {
    sweepId: result.sweepId,
    trials: result.trials,
    completed: result.completed,
    stoppedEarly: result.stoppedEarly,
    chosen: result.chosen,
    rule: result.rule,
    results: result.resultsPath,
    reportHtml: result.html,
    reportMarkdown: result.markdown,
  };
}

export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description(
      'Search LoRA, gate, lead, learning-rate and task settings as one Temporal workflow with a child workflow ' +
        'per trial over shared cached features; writes a report with every trial, the Pareto fronts and the ' +
        'configuration chosen on validation metrics. Starting the same sweep again resumes it',
    )
    .requiredOption('--config <file>', 'sweep configuration (YAML); see configs/sweep.example.yaml')
    .option('--local', 'run an in-process worker (and a local dev server if no server is configured)')
    .option('--no-wait', 'start the sweep and return its id without waiting')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { config: string; local?: boolean; wait: boolean; json?: boolean }) => {
      const { loadSweepConfig, runSweepLocally, startSweep } = await import('@enecg/workflows');
      const plan = await loadSweepConfig(options.config);
      if (options.local) {
        printSummary(resultSummary(await runSweepLocally({ plan, log })), options);
        return;
      }
      const client = await connectCliClient();
      try {
        const handle = await startSweep(client, plan);
        if (!options.wait) {
          printSummary(
            { sweepId: handle.workflowId, trials: plan.trials.length, status: 'started' },
            options,
          );
          return;
        }
        log(`sweep ${plan.sweepId} (${plan.trials.length} trials) started; waiting for it`);
        printSummary(resultSummary(await handle.result()), options);
      } finally {
        await client.connection.close();
      }
    });
}
