import type { Client } from '@temporalio/client';
import { createActivities } from './activities/index.ts';
import { connectClient, newPipelineRunId, startPipeline } from './client.ts';
import type { PipelineConfig } from './config.ts';
import { connectOrStartServer } from './dev-server.ts';
import { CPU_TASK_QUEUE } from './task-queues.ts';
import { createPipelineWorker } from './worker.ts';
import type { PipelineResult } from './workflows/pipeline.ts';

export interface LocalRunOptions extends LocalServerOptions {
  config: PipelineConfig;
  runId?: string;
}

/** How a local run reaches Temporal: the given server, the configured one, or a dev server started here. */
export interface LocalServerOptions {
  log?: (line: string) => void;
  /** A dev server started here has no Web UI. */
  headless?: boolean;
  /** Reuse this server instead of the configured one or a new dev server. */
  address?: string;
  /** Activities run at once by the in-process worker. */
  maxConcurrentActivities?: number;
  /** Follows the started workflow (e.g. shows its activities' progress) until the returned stop(). */
  watch?: (client: Client, workflowId: string) => { stop(outcome: 'completed' | 'ended'): Promise<void> };
}

/**
 * Starts a workflow and drives it to completion with an in-process worker: against the configured server
 * when there is one, otherwise a local dev server started (and stopped) here.
 */
export async function runWithLocalWorker<R>(
  options: LocalServerOptions,
  start: (client: Client, address: string) => Promise<{ workflowId: string; result(): Promise<R> }>,
): Promise<R> {
  const server = options.address
    ? { address: options.address, stop: async () => {} }
    : await connectOrStartServer({ log: options.log ?? (() => {}), headless: options.headless });
  try {
    const worker = await createPipelineWorker({
      address: server.address,
      taskQueue: CPU_TASK_QUEUE,
      activities: createActivities(),
      maxConcurrentActivities: options.maxConcurrentActivities,
    });
    const client = await connectClient(server.address);
    try {
      const handle = await start(client, server.address);
      const watching = options.watch?.(client, handle.workflowId);
      let outcome: 'completed' | 'ended' = 'ended';
      try {
        const result = await worker.runUntil(handle.result());
        outcome = 'completed';
        return result;
      } finally {
        await watching?.stop(outcome);
      }
    } finally {
      await client.connection.close();
    }
  } finally {
    await server.stop();
  }
}

/**
 * Runs one pipeline through Temporal with an in-process worker. This is what `enecg run --local` and
 * `enecg demo` do; production runs use `enecg worker` processes and `enecg run`.
 */
export function runPipelineLocally(options: LocalRunOptions): Promise<PipelineResult> {
  const runId = options.runId ?? newPipelineRunId();
  return runWithLocalWorker(options, (client, address) => {
    options.log?.(`starting pipeline run ${runId} on ${address}`);
    return startPipeline(client, options.config, runId);
  });
}
