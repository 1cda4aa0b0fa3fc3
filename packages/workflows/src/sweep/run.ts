import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../activities/index.ts';
import { connectClient } from '../client.ts';
import { connectOrStartServer } from '../dev-server.ts';
import { CPU_TASK_QUEUE } from '../task-queues.ts';
import { createPipelineWorker } from '../worker.ts';
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

export interface LocalSweepOptions {
  plan: SweepPlan;
  log?: (line: string) => void;
  /** Reuse this server instead of the configured one or a new dev server. */
  address?: string;
  /** Activities run at once by the in-process worker. */
  maxConcurrentActivities?: number;
}

/** Runs a sweep through Temporal with an in-process worker (what `enecg sweep --local` does). */
export async function runSweepLocally(options: LocalSweepOptions): Promise<SweepResult> {
  const log = options.log ?? (() => {});
  const server = options.address
    ? { address: options.address, stop: async () => {} }
    : await connectOrStartServer({ log });
  try {
    const worker = await createPipelineWorker({
      address: server.address,
      taskQueue: CPU_TASK_QUEUE,
      activities: createActivities(),
      maxConcurrentActivities: options.maxConcurrentActivities ?? options.plan.maxParallel,
    });
    const client = await connectClient(server.address);
    try {
      log(
        `starting sweep ${options.plan.sweepId} (${options.plan.trials.length} trials) on ${server.address}`,
      );
      const handle = await startSweep(client, options.plan);
      return await worker.runUntil(handle.result());
    } finally {
      await client.connection.close();
    }
  } finally {
    await server.stop();
  }
}
