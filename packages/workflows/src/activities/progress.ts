import { Context } from '@temporalio/activity';
import type { StageJobInput, StageJobName, StageJobResult } from './stage-jobs.ts';
import { runInStageProcess } from './stage-process.ts';

/**
 * Heartbeats sent while an activity runs. Temporal forwards at most one per throttle interval (see
 * worker.ts), so beating every second costs nothing and keeps the latest details current.
 */
const HEARTBEAT_EVERY_MS = 1_000;

/** Reports a stage's progress: the counts become the activity's heartbeat details. */
export type ProgressReporter = (progress: unknown) => void;

/**
 * Heartbeats every second while `work` runs, so that Temporal notices a dead worker within the heartbeat
 * timeout and a cancelled activity learns it. The details are the stage's latest progress counts as it
 * reports them (shown by `enecg status`): ingest `{ done, total }`, features `{ seen, total?, computed,
 * recomputed, skipped, quarantined, withdrawn }`; none for stages that report no progress.
 */
export async function withHeartbeat<T>(work: (progress: ProgressReporter) => Promise<T>): Promise<T> {
  const context = Context.current();
  let latest: unknown;
  const beat = () => (latest === undefined ? context.heartbeat() : context.heartbeat(latest));
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  try {
    return await work((progress) => {
      latest = progress;
      beat();
    });
  } finally {
    clearInterval(timer);
  }
}

/**
 * Runs a CPU-bound stage job in a process of its own (see stage-process.ts) for the current activity:
 * its progress goes to `progress`, and the activity's cancellation stops it.
 */
export function inStageProcess<K extends StageJobName>(
  job: K,
  input: StageJobInput<K> & { warehouse: string },
  progress?: ProgressReporter,
): Promise<StageJobResult<K>> {
  return runInStageProcess(job, input, {
    warehouse: input.warehouse,
    signal: Context.current().cancellationSignal,
    onProgress: progress,
  });
}
