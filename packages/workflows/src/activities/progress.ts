import { Context } from '@temporalio/activity';

/**
 * A progress callback for long stages: heartbeats the counts (so Temporal notices a dead worker within the
 * heartbeat timeout and retries elsewhere, and the stage resumes from what it already wrote), and stops
 * the stage at its next step once the workflow asked to cancel.
 */
export function heartbeatProgress<Progress>(): (progress: Progress) => void {
  const context = Context.current();
  return (progress) => {
    if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
    context.heartbeat(progress);
  };
}
