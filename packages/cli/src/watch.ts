import type { Client } from '@temporalio/client';
import { formatDuration, formatProgressLine, type LiveLines } from './progress.ts';

/** A running activity of a run, as Temporal's describe shows it, with its last heartbeat decoded. */
export interface RunningActivity {
  activityId: string;
  activityType: string;
  attempt: number;
  /** When the current attempt started (ms since the epoch); undefined while it waits for a worker. */
  startedAt: number | undefined;
  lastHeartbeatAt: number | undefined;
  /** The stage's own progress, as its activity heartbeats it (see workflows' heartbeatProgress). */
  progress: Record<string, unknown> | undefined;
}

/** The stage names users know (`enecg ingest` ...) for the activities that run them. */
const STAGES: Record<string, string> = {
  ingestShard: 'ingest',
  deriveLabels: 'labels',
  cacheFeatures: 'features',
  trainModel: 'train',
  evaluateModel: 'evaluate',
  renderRunReport: 'report',
};

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

function millis(time: Timestamp): number | undefined {
  if (!time?.seconds) return undefined;
  return Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

/** The running activities of a workflow, with their heartbeat details decoded. */
export async function runningActivities(client: Client, workflowId: string) {
  const { defaultPayloadConverter } = await import('@temporalio/client');
  const description = await client.workflow.getHandle(workflowId).describe();
  const activities: RunningActivity[] = (description.raw.pendingActivities ?? []).map((pending) => {
    const payload = pending.heartbeatDetails?.payloads?.[0];
    const progress = payload ? defaultPayloadConverter.fromPayload<unknown>(payload) : undefined;
    return {
      activityId: pending.activityId ?? '',
      activityType: pending.activityType?.name ?? 'activity',
      attempt: pending.attempt ?? 1,
      startedAt: millis(pending.lastStartedTime as Timestamp),
      lastHeartbeatAt: millis(pending.lastHeartbeatTime as Timestamp),
      progress:
        progress !== null && typeof progress === 'object' ? (progress as Record<string, unknown>) : undefined,
    };
  });
  return { description, activities };
}

const count = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** What a running activity is about: `features dlinear`, `ingest shard 1/2`, `train`. */
export function activityLabel(activity: RunningActivity): string {
  const stage = STAGES[activity.activityType] ?? activity.activityType;
  const progress = activity.progress ?? {};
  const shard = progress.shard as { index?: number; count?: number } | undefined;
  const subject =
    typeof progress.expert === 'string'
      ? ` ${progress.expert}`
      : shard && (shard.count ?? 1) > 1
        ? ` shard ${shard.index}/${shard.count}`
        : '';
  return `${stage}${subject}`;
}

/**
 * One line per running activity from its heartbeat: counts, rate and ETA where the stage reports
 * counts (ingest, features, train, evaluate), otherwise how long it has been running.
 */
export function activityLine(activity: RunningActivity, now: number): string {
  const label = activityLabel(activity);
  const retry = activity.attempt > 1 ? `attempt ${activity.attempt}` : undefined;
  if (activity.startedAt === undefined) return `${label}: waiting for a worker${retry ? `, ${retry}` : ''}`;
  const elapsedMs = Math.max(0, now - activity.startedAt);
  const progress = activity.progress ?? {};
  const line = (unit: string, done: number | undefined, total: number | undefined, details: string[]) =>
    done === undefined
      ? undefined
      : formatProgressLine({
          label,
          unit,
          done,
          total,
          elapsedMs,
          detail: [...details, ...(retry ? [retry] : [])].join(', ') || undefined,
        });
  const counted = (() => {
    switch (activity.activityType) {
      case 'ingestShard':
        return line('records', count(progress.done), count(progress.total), []);
      case 'cacheFeatures':
        return line('records', count(progress.seen), count(progress.total), [
          `${count(progress.computed) ?? 0} computed`,
          `${count(progress.skipped) ?? 0} cached`,
        ]);
      case 'trainModel': {
        const losses = [`train loss ${count(progress.trainLoss)?.toFixed(4)}`];
        if ((count(progress.fits) ?? 1) > 1) losses.unshift(`fit ${progress.fit}/${progress.fits}`);
        if (Number.isFinite(count(progress.valLoss)))
          losses.push(`val loss ${count(progress.valLoss)?.toFixed(4)}`);
        return line('epochs', count(progress.epoch), count(progress.maxEpochs), losses);
      }
      case 'evaluateModel':
        return line('replicates', count(progress.done), count(progress.total), []);
      default:
        return undefined;
    }
  })();
  return counted ?? `${label}: running for ${formatDuration(elapsedMs / 1000)}${retry ? `, ${retry}` : ''}`;
}

/**
 * Shows a run's activities while it runs: a live line per running activity from its heartbeats, and a
 * permanent line when one finishes. Polls Temporal's describe (cheap: one call) every `everyMs`.
 */
export function watchRun(
  client: Client,
  workflowId: string,
  live: LiveLines,
  everyMs = 1000,
): { stop(outcome?: 'completed' | 'ended'): Promise<void> } {
  const seen = new Map<string, { label: string; startedAt: number | undefined }>();
  let stopped = false;
  let wake = () => {};
  const finished = (id: string, now: number) => {
    const { label, startedAt } = seen.get(id)!;
    seen.delete(id);
    const took = startedAt === undefined ? '' : ` in ${formatDuration((now - startedAt) / 1000)}`;
    live.log(`enecg: ${label} finished${took}`);
  };
  // A stage's keep-alive heartbeat carries no details: show its last progress meanwhile.
  const lastProgress = new Map<string, RunningActivity['progress']>();
  const poll = async () => {
    const { activities } = await runningActivities(client, workflowId);
    for (const activity of activities) {
      const key = `${activity.activityId}/${activity.attempt}`;
      if (activity.progress) lastProgress.set(key, activity.progress);
      else activity.progress = lastProgress.get(key);
    }
    const now = Date.now();
    // The live block first, then the finished ones above it (a log line redraws the block it is given).
    live.render(
      activities.map((activity) => ({ key: activity.activityId, text: activityLine(activity, now) })),
    );
    const running = new Set(activities.map((activity) => activity.activityId));
    for (const id of seen.keys()) if (!running.has(id)) finished(id, now);
    for (const activity of activities) {
      seen.set(activity.activityId, { label: activityLabel(activity), startedAt: activity.startedAt });
    }
  };
  const loop = (async () => {
    while (!stopped) {
      // A failed poll (the server busy, a restart) only skips one refresh: the run itself is unaffected.
      await poll().catch(() => {});
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everyMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop(outcome: 'completed' | 'ended' = 'ended') {
      stopped = true;
      wake();
      await loop;
      live.finish();
      // The run completed: what was still running at the last poll finished since.
      if (outcome === 'completed') for (const id of seen.keys()) finished(id, Date.now());
    },
  };
}
