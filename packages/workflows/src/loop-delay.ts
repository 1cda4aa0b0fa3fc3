import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** Sampling interval of the event-loop delay histogram. */
const RESOLUTION_MS = 10;
/** A loop held up this long delays heartbeats and workflow tasks by as much: `enecg worker` warns. */
const LOOP_DELAY_WARNING_MS = 1_000;

/** How long this process's event loop was held up while one activity ran (by any of its work). */
export interface LoopDelayReport extends LoopDelay {
  activity: string;
  workflowId?: string;
  attempt: number;
}

export interface LoopDelay {
  seconds: number;
  /** Delays beyond the sampling interval, in milliseconds. */
  p99Ms: number;
  maxMs: number;
}

/** Starts measuring this process's event-loop delay; `stop` returns the figures since the start. */
export function monitorLoopDelay(): { stop(): LoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const started = performance.now();
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      const seconds = (performance.now() - started) / 1000;
      if (histogram.count === 0) return { seconds, p99Ms: 0, maxMs: 0 };
      const beyond = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);
      return { seconds, p99Ms: beyond(histogram.percentile(99)), maxMs: beyond(histogram.max) };
    },
  };
}

/**
 * Measures the event-loop delay during every activity and hands the figures to `report`; by default they
 * are logged through the activity's logger, as a warning when the loop was held up over a second.
 */
export function loopDelayInterceptor(
  report?: (report: LoopDelayReport) => void,
): ActivityInterceptorsFactory {
  return (context) => ({
    inbound: {
      async execute(input, next) {
        const monitor = monitorLoopDelay();
        try {
          return await next(input);
        } finally {
          const figures: LoopDelayReport = {
            activity: context.info.activityType,
            workflowId: context.info.workflowExecution?.workflowId,
            attempt: context.info.attempt,
            ...monitor.stop(),
          };
          if (report) report(figures);
          else logLoopDelay(figures, context.log);
        }
      },
    },
  });
}

function logLoopDelay(
  figures: LoopDelayReport,
  log: { info(message: string, meta?: object): void; warn(message: string, meta?: object): void },
): void {
  const line = `event-loop delay during ${figures.activity} (${figures.seconds.toFixed(1)} s): p99 ${figures.p99Ms.toFixed(0)} ms, max ${figures.maxMs.toFixed(0)} ms`;
  const meta = { eventLoopDelayP99Ms: figures.p99Ms, eventLoopDelayMaxMs: figures.maxMs };
  if (figures.maxMs > LOOP_DELAY_WARNING_MS) {
    log.warn(
      `${line}: heartbeats and workflow tasks waited as long; CPU-bound work belongs in a stage process (see activities/stage-process.ts)`,
      meta,
    );
  } else {
    log.info(line, meta);
  }
}
