import type { RetrainScheduleOptions } from '@enecg/workflows/client';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';
import { withClient } from '../temporal-client.ts';

interface DefineOptions {
  config: string;
  cron: string;
  timeZone: string;
  catchupWindow: string;
  json?: boolean;
}

/** The schedule operations, loaded when a schedule command runs. */
const schedules = () => import('@enecg/workflows/client');

async function scheduleOptions(scheduleId: string, options: DefineOptions): Promise<RetrainScheduleOptions> {
  const { checkScheduleTiming, loadPipelineConfig } = await import('@enecg/workflows');
  checkScheduleTiming(options, {
    cron: '--cron',
    timeZone: '--time-zone',
    catchupWindow: '--catchup-window',
  });
  return {
    scheduleId,
    cron: options.cron,
    timeZone: options.timeZone,
    catchupWindow: options.catchupWindow,
    pipelineConfig: await loadPipelineConfig(options.config),
  };
}

function defineCommand(parent: Command, name: 'create' | 'update', description: string): Command {
  return parent
    .command(name)
    .description(description)
    .argument('<scheduleId>', 'a name for the schedule, e.g. nightly')
    .requiredOption(
      '--config <file>',
      'the pipeline configuration every run uses (as for enecg run; see configs/pipeline.example.yaml)',
    )
    .option('--cron <expr>', 'when to run, in --time-zone', '0 2 * * *')
    .option('--time-zone <tz>', 'IANA time zone of the cron expression', 'UTC')
    .option('--catchup-window <duration>', 'missed runs younger than this still start once', '6h')
    .option('--json', 'print a machine-readable summary');
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description(
      'Nightly incremental retraining: ingest new ECGs, relabel, cache features for new records only, retrain, ' +
        'evaluate, and promote the new model only if it beats the champion on the same test split',
    );

  defineCommand(schedule, 'create', 'Create a retraining schedule (refused if the id exists)').action(
    async (scheduleId: string, options: DefineOptions) => {
      const definition = await scheduleOptions(scheduleId, options);
      const { createRetrainSchedule } = await schedules();
      await withClient((client) => createRetrainSchedule(client, definition));
      printSummary({ scheduleId, created: true, cron: options.cron, timeZone: options.timeZone }, options);
    },
  );

  defineCommand(schedule, 'update', 'Change an existing schedule').action(
    async (scheduleId: string, options: DefineOptions) => {
      const definition = await scheduleOptions(scheduleId, options);
      const { updateRetrainSchedule } = await schedules();
      await withClient((client) => updateRetrainSchedule(client, definition));
      printSummary({ scheduleId, updated: true, cron: options.cron, timeZone: options.timeZone }, options);
    },
  );

  schedule
    .command('list')
    .description('List schedules with their next and recent runs')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { json?: boolean }) => {
      const { describeSchedule, listSchedules } = await schedules();
      const list = await withClient(async (client) =>
        Promise.all((await listSchedules(client)).map((id) => describeSchedule(client, id))),
      );
      const withDecisions = await Promise.all(
        list.map(async (schedule) => {
          const { championStatus } = await import('@enecg/report');
          const status = schedule.warehouse ? await championStatus(schedule.warehouse) : null;
          const last = status?.lastDecision;
          return {
            ...schedule,
            champion: status?.champion ?? null,
            lastDecision: last
              ? {
                  decidedAt: last.decidedAt,
                  verdict: last.verdict,
                  challenger: last.challenger,
                  reason: last.reason,
                }
              : null,
          };
        }),
      );
      printSummary({ schedules: withDecisions }, options);
    });

  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    schedule
      .command(name)
      .description(paused ? 'Pause a schedule (no runs start until resumed)' : 'Resume a paused schedule')
      .argument('<scheduleId>')
      .option('--json', 'print a machine-readable summary')
      .action(async (scheduleId: string, options: { json?: boolean }) => {
        const { pauseSchedule } = await schedules();
        await withClient((client) => pauseSchedule(client, scheduleId, paused));
        printSummary({ scheduleId, paused }, options);
      });
  }

  schedule
    .command('trigger')
    .description('Start one run of the schedule now')
    .argument('<scheduleId>')
    .option('--json', 'print a machine-readable summary')
    .action(async (scheduleId: string, options: { json?: boolean }) => {
      const { triggerSchedule } = await schedules();
      const outcome = await withClient((client) => triggerSchedule(client, scheduleId));
      printSummary(
        outcome.started
          ? { scheduleId, triggered: true, workflowId: outcome.workflowId }
          : {
              scheduleId,
              triggered: false,
              skipped: `the overlap policy (skip) skipped it: ${outcome.skippedBecauseRunning.join(', ')} is still running`,
            },
        options,
      );
    });

  schedule
    .command('delete')
    .description('Delete a schedule (runs it started are kept)')
    .argument('<scheduleId>')
    .option('--json', 'print a machine-readable summary')
    .action(async (scheduleId: string, options: { json?: boolean }) => {
      const { deleteSchedule } = await schedules();
      await withClient((client) => deleteSchedule(client, scheduleId));
      printSummary({ scheduleId, deleted: true }, options);
    });
}
