import { Context } from '@temporalio/activity';

/**
 * A progress callback for long stages: heartbeats the counts (so Temporal notices a dead worker within the
 * heartbeat timeout and retries elsewhere, and the stage resumes from what it already wrote), and stops
 * the stage at its next step once the workflow asked to cancel.
 */
export function heartbeatProgress<Progress extends object>(
  subject: Record<string, unknown> = {},
): (progress: Progress) => void {
  const context = Context.current();
  return (progress) => {
    if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
    // `subject` says what the counts are of (the expert, the shard): `enecg run` and `status` show it.
    context.heartbeat({ ...subject, ...progress });
  };
}

/**
 * Heartbeats every few seconds while `work` runs (the event loop turns between batches and steps), so a dead
 * worker is noticed within the heartbeat timeout even in stages that report no progress, and a cancelled
 * one learns it.
 */
export async function withHeartbeat<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), 5_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
