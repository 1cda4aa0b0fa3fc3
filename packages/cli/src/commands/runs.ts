import type { RunProgress } from '@enecg/workflows';
import type { Command } from 'commander';
import { formatSummary, formatTable, printSummary } from '../output.ts';
import { withClient } from '../temporal-client.ts';
import { activityLine, runningActivities } from '../watch.ts';

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
          else if (runs.length === 0) process.stdout.write('no runs yet (start one with `enecg run`)\n');
          else
            process.stdout.write(
              formatTable(
                ['run', 'type', 'status', 'started'],
                runs.map((run) => [
                  String(run.runId),
                  String(run.type),
                  String(run.status),
                  (run.started as Date).toISOString(),
                ]),
              ),
            );
          return;
        }
        const { description, activities } = await runningActivities(client, runId);
        // The workflow mirrors its stage and, for a nightly run, its decision into the memo.
        const progress = description.memo?.progress as RunProgress | undefined;
        const summary = {
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
          running: activities.map((activity) => ({
            activity: activity.activityType,
            attempt: activity.attempt,
            lastHeartbeat:
              activity.lastHeartbeatAt === undefined
                ? null
                : new Date(activity.lastHeartbeatAt).toISOString(),
            progress: activity.progress ?? null,
          })),
        };
        if (options.json) {
          printSummary(summary, options);
          return;
        }
        const now = Date.now();
        const closed = summary.closed ? `, closed ${summary.closed}` : '';
        process.stdout.write(`${runId}  ${summary.status}  started ${summary.started}${closed}\n`);
        const {
          running: _running,
          runId: _runId,
          status: _status,
          started: _started,
          closed: _closed,
          ...facts
        } = summary;
        process.stdout.write(formatSummary(facts).replace(/^/gm, '  ').trimEnd().concat('\n'));
        for (const activity of activities) process.stdout.write(`  ${activityLine(activity, now)}\n`);
        if (summary.status === 'RUNNING' && activities.length === 0)
          process.stdout.write('  (between stages: no activity is running)\n');
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
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(runId);
        const { status } = await handle.describe();
        // Cancelling a run that already ended changes nothing: say so, and succeed.
        if (status.name !== 'RUNNING') {
          if (options.json) printSummary({ runId, cancelRequested: false, status: status.name }, options);
          else process.stdout.write(`run ${runId} is already ${status.name}: nothing to cancel\n`);
          return;
        }
        await handle.cancel();
        if (options.json) printSummary({ runId, cancelRequested: true }, options);
        else process.stdout.write(`cancelling run ${runId}: its running stages stop at their next step\n`);
      });
    });
}
