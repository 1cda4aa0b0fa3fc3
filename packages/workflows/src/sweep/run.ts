import type { Client, WorkflowHandle } from '@temporalio/client';
import { type LocalServerOptions, runWithLocalWorker } from '../local-run.ts';
import { CPU_TASK_QUEUE } from '../task-queues.ts';
import type { SweepInput, SweepResult } from '../workflows/sweep.ts';
import type { SweepPlan } from './config.ts';

/**
 * Starts the sweep workflow under its sweep id, or attaches to it when that sweep is already running or
 * finished (starting the same sweep again resumes it rather than duplicating it).
 */
export async function startSweep(
  client: Client,
  plan: SweepPlan,
): Promise<WorkflowHandle<(input: SweepInput) => Promise<SweepResult>>> {
  return client.workflow.start('enecgSweep', {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: plan.sweepId,
    args: [{ plan }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

export interface LocalSweepOptions extends LocalServerOptions {
  plan: SweepPlan;
}

/** Runs a sweep through Temporal with an in-process worker (what `enecg sweep --local` does). */
export function runSweepLocally(options: LocalSweepOptions): Promise<SweepResult> {
  const { plan } = options;
  return runWithLocalWorker(
    { ...options, maxConcurrentActivities: options.maxConcurrentActivities ?? plan.maxParallel },
    (client, address) => {
      options.log?.(`starting sweep ${plan.sweepId} (${plan.trials.length} trials) on ${address}`);
      return startSweep(client, plan);
    },
  );
}
