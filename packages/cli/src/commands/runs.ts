import type { RunProgress } from '@enecg/workflows';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';
import { withClient } from '../temporal-client.ts';

export function registerRunCommands(program: Command): void {
  program
    .command('status')
    .description('Show a pipeline run (its stage in progress and heartbeat progress), or list recent runs')
    .argument('[runId]', 'the run id (workflow id); omitted: the 20 most recent runs')
    .option('--json', 'print a machine-readable summary')
    .action(async (runId: string | undefined, options: { json?: boolean }) => {
      await withClient(async (client) => {
        if (runId === undefined) {
          const runs: Array<Record<string, unknown>> = [];
          for await (const run of client.workflow.list({
            query: "WorkflowType IN ('enecgPipeline', 'nightlyRetrain')",
          })) {
            runs.push({
              runId: run.workflowId,
              type: run.type,
              status: run.status.name,
              started: run.startTime,
            });
            if (runs.length === 20) break;
          }
          if (options.json) printSummary({ runs }, options);
          else
            for (const run of runs)
              process.stdout.write(
                `${run.runId}  ${run.type}  ${run.status}  ${(run.started as Date).toISOString()}\n`,
              );
          return;
        }
        const description = await client.workflow.getHandle(runId).describe();
        const raw = description.raw.pendingActivities ?? [];
        // The workflow mirrors its stage and, for a nightly run, its decision into the memo.
        const progress = description.memo?.progress as RunProgress | undefined;
        printSummary(
          {
            runId,
            status: description.status.name,
            started: description.startTime.toISOString(),
            closed: description.closeTime?.toISOString() ?? null,
            stage: progress?.stage ?? null,
            completed: progress?.completed ?? [],
            decision: progress?.decision
              ? `${progress.decision.verdict} (${progress.decision.rule}): ${progress.decision.reason}; champion ${progress.decision.champion}`
              : null,
            lineageHead: progress?.lineageHead
              ? `${progress.lineageHead.sequence}:${progress.lineageHead.sha256}`
              : null,
            running: raw.map((activity) => ({
              activity: activity.activityType?.name,
              attempt: activity.attempt,
              lastHeartbeat: activity.lastHeartbeatTime
                ? new Date(Number(activity.lastHeartbeatTime.seconds) * 1000).toISOString()
                : null,
            })),
          },
          options,
        );
      });
    });

  program
    .command('cancel')
    .description(
      'Cancel a pipeline run; running stages stop at their next progress step and keep finished parts',
    )
    .argument('<runId>', 'the run id (workflow id)')
    .option('--json', 'print a machine-readable summary')
    .action(async (runId: string, options: { json?: boolean }) => {
      await withClient((client) => client.workflow.getHandle(runId).cancel());
      printSummary({ runId, cancelRequested: true }, options);
    });
}
