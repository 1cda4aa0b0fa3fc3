import { ConfigError, resolveLakeCatalog } from '@enecg/common';
import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import type { PipelineConfig } from './config.ts';
import { CPU_TASK_QUEUE } from './task-queues.ts';

export interface RetrainScheduleOptions {
  scheduleId: string;
  /** Cron expression in the schedule's time zone; default 02:00 every night. */
  cron: string;
  timeZone: string;
  /** The pipeline configuration every scheduled run uses, already validated. */
  pipelineConfig: unknown;
  /** How far back missed runs are still started after the server or workers were down. */
  catchupWindow: string;
  note?: string;
}

export interface ScheduleSummary {
  scheduleId: string;
  paused: boolean;
  nextRuns: string[];
  recentRuns: Array<{ workflowId: string; scheduledAt: string }>;
}

/**
 * Policies are explicit: a night's retrain that is still running when the next one is due makes the new one
 * skip (never two retrains over the same warehouse), and missed nights inside the catch-up window run once.
 */
function scheduleBody(options: RetrainScheduleOptions) {
  return {
    spec: { cronExpressions: [options.cron], timezone: options.timeZone },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'nightlyRetrain',
      taskQueue: CPU_TASK_QUEUE,
      workflowId: `${options.scheduleId}-retrain`,
      args: [{ config: options.pipelineConfig }],
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: options.catchupWindow,
      pauseOnFailure: false,
    },
    state: { note: options.note ?? 'EnECG nightly incremental retrain' },
  };
}

export async function createRetrainSchedule(client: Client, options: RetrainScheduleOptions): Promise<void> {
  // Settled now, so that every scheduled run's workers find the same catalog in lake.json.
  const { warehouse, warehouseCatalog } = options.pipelineConfig as PipelineConfig;
  await resolveLakeCatalog(warehouse, warehouseCatalog);
  try {
    await client.schedule.create({ scheduleId: options.scheduleId, ...scheduleBody(options) });
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) {
      throw new ConfigError(
        `schedule ${options.scheduleId} already exists; use \`enecg schedule update\` to change it`,
        'scheduleId',
      );
    }
    throw error;
  }
}

export async function updateRetrainSchedule(client: Client, options: RetrainScheduleOptions): Promise<void> {
  const body = scheduleBody(options);
  await withSchedule(client, options.scheduleId, (handle) =>
    handle.update((previous) => ({
      ...previous,
      spec: body.spec,
      action: body.action,
      policies: body.policies,
    })),
  );
}

export function pauseSchedule(client: Client, scheduleId: string, paused: boolean): Promise<void> {
  return withSchedule(client, scheduleId, (handle) =>
    paused
      ? handle.pause('paused with enecg schedule pause')
      : handle.unpause('resumed with enecg schedule resume'),
  );
}

export function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  return withSchedule(client, scheduleId, (handle) => handle.delete());
}

/** Starts one run now, outside the cron, with the same overlap policy. */
export function triggerSchedule(client: Client, scheduleId: string): Promise<void> {
  return withSchedule(client, scheduleId, (handle) => handle.trigger(ScheduleOverlapPolicy.SKIP));
}

export async function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleSummary> {
  return withSchedule(client, scheduleId, async (handle) => {
    const description = await handle.describe();
    return {
      scheduleId,
      paused: description.state.paused,
      nextRuns: description.info.nextActionTimes.map((time) => time.toISOString()),
      recentRuns: description.info.recentActions.map((action) => ({
        workflowId: 'workflow' in action.action ? action.action.workflow.workflowId : '',
        scheduledAt: action.scheduledAt.toISOString(),
      })),
    };
  });
}

export async function listSchedules(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const schedule of client.schedule.list()) ids.push(schedule.scheduleId);
  return ids.sort();
}

async function withSchedule<T>(
  client: Client,
  scheduleId: string,
  work: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<T>,
): Promise<T> {
  try {
    return await work(client.schedule.getHandle(scheduleId));
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) {
      throw new ConfigError(`no schedule with id ${scheduleId} (see \`enecg schedule list\`)`, 'scheduleId');
    }
    throw error;
  }
}
