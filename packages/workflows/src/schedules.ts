import { ConfigError, EnvironmentError, resolveLakeCatalog } from '@enecg/common';
import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import { type Duration, msToNumber } from '@temporalio/common';
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
  /** The warehouse its runs write to (from the pipeline configuration it starts with). */
  warehouse: string | null;
}

/** Each cron field's bounds and names (month and weekday names as Temporal accepts them). */
const CRON_FIELDS: ReadonlyArray<{ name: string; min: number; max: number; names?: readonly string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];
const CRON_SHORTHANDS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** Why a five-field cron expression is invalid, or null when it is valid. */
export function cronProblem(expression: string): string | null {
  const trimmed = expression.trim();
  if (CRON_SHORTHANDS.includes(trimmed)) return null;
  const fields = trimmed.split(/\s+/);
  if (fields.length !== CRON_FIELDS.length) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or one of ${CRON_SHORTHANDS.join(', ')}, got ${fields.length}`;
  }
  for (const [index, field] of fields.entries()) {
    const spec = CRON_FIELDS[index]!;
    const value = (text: string): number | null => {
      const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
      if (named >= 0) return named + (spec.name === 'month' ? 1 : 0);
      if (!/^\d+$/.test(text)) return null;
      const number = Number(text);
      return number >= spec.min && number <= spec.max ? number : null;
    };
    for (const part of field.split(',')) {
      const [range, step, extra] = part.split('/');
      if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) {
        return `${spec.name} "${part}": a step is /<positive integer>`;
      }
      if (range === '*' || (range === '?' && index >= 2)) continue;
      const [from, to, beyond] = (range ?? '').split('-');
      const low = value(from ?? '');
      const high = to === undefined ? low : value(to);
      if (beyond !== undefined || low === null || high === null || high < low) {
        return `${spec.name} "${part}" is not a value or range within ${spec.min}-${spec.max}`;
      }
    }
  }
  return null;
}

/** Refuses a schedule's timing before anything is sent to Temporal; `keys` name the flags to blame. */
export function checkScheduleTiming(
  timing: Pick<RetrainScheduleOptions, 'cron' | 'timeZone' | 'catchupWindow'>,
  keys: { cron: string; timeZone: string; catchupWindow: string } = {
    cron: 'cron',
    timeZone: 'timeZone',
    catchupWindow: 'catchupWindow',
  },
): void {
  const cron = cronProblem(timing.cron);
  if (cron !== null) throw new ConfigError(cron, keys.cron);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timing.timeZone });
  } catch {
    throw new ConfigError(`unknown IANA time zone ${JSON.stringify(timing.timeZone)}`, keys.timeZone);
  }
  let catchup: number;
  try {
    catchup = msToNumber(timing.catchupWindow as Duration);
  } catch {
    catchup = Number.NaN;
  }
  if (!(catchup > 0)) {
    throw new ConfigError(
      `expected a duration such as 30m, 6h or 2d, got ${JSON.stringify(timing.catchupWindow)}`,
      keys.catchupWindow,
    );
  }
}

/**
 * Policies are explicit: a night's retrain that is still running when the next one is due makes the new one
 * skip (never two retrains over the same warehouse), and missed nights inside the catch-up window run once.
 */
function scheduleBody(options: RetrainScheduleOptions) {
  checkScheduleTiming(options);
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

export type TriggerOutcome =
  | { started: true; workflowId: string }
  /** The overlap policy skipped it: a run of the schedule is still going. */
  | { started: false; skippedBecauseRunning: string[] };

/**
 * Starts one run now, outside the cron, with the same overlap policy, and says what happened: Temporal's
 * trigger answers nothing, so the schedule is watched until the run appears or the skip is counted.
 */
export function triggerSchedule(
  client: Client,
  scheduleId: string,
  waitMs = 10_000,
): Promise<TriggerOutcome> {
  return withSchedule(client, scheduleId, async (handle) => {
    const before = await handle.describe();
    const seen = new Set(before.info.recentActions.map(workflowIdOf));
    await handle.trigger(ScheduleOverlapPolicy.SKIP);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const now = await handle.describe();
      const started = [...now.info.recentActions, ...now.info.runningActions.map((action) => ({ action }))]
        .map(workflowIdOf)
        .find((id) => id !== '' && !seen.has(id));
      if (started !== undefined) return { started: true, workflowId: started };
      if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) {
        return {
          started: false,
          skippedBecauseRunning: now.info.runningActions.map((action) => action.workflow.workflowId),
        };
      }
      if (Date.now() > deadline) {
        throw new EnvironmentError(
          `schedule ${scheduleId} was triggered but no run appeared within ${waitMs / 1000} s`,
          'check that a worker polls the enecg-cpu task queue (`enecg worker`) and see `enecg schedule list`',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
}

function warehouseOf(action: { type: string; args?: readonly unknown[] }): string | null {
  const input =
    action.type === 'startWorkflow' ? (action.args?.[0] as { config?: { warehouse?: unknown } }) : null;
  return typeof input?.config?.warehouse === 'string' ? input.config.warehouse : null;
}

function workflowIdOf(result: { action: object }): string {
  const { action } = result;
  return 'workflow' in action ? (action.workflow as { workflowId: string }).workflowId : '';
}

export async function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleSummary> {
  return withSchedule(client, scheduleId, async (handle) => {
    const description = await handle.describe();
    return {
      scheduleId,
      paused: description.state.paused,
      nextRuns: description.info.nextActionTimes.map((time) => time.toISOString()),
      recentRuns: description.info.recentActions.map((action) => ({
        workflowId: workflowIdOf(action),
        scheduledAt: action.scheduledAt.toISOString(),
      })),
      warehouse: warehouseOf(description.action),
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
