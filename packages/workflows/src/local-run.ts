import { createActivities } from './activities/index.ts';
import { connectClient, newPipelineRunId, startPipeline } from './client.ts';
import type { PipelineConfig } from './config.ts';
import { connectOrStartServer } from './dev-server.ts';
import { CPU_TASK_QUEUE } from './task-queues.ts';
import { createPipelineWorker } from './worker.ts';
import type { PipelineResult } from './workflows/pipeline.ts';

export interface LocalRunOptions {
  config: PipelineConfig;
  runId?: string;
  log?: (line: string) => void;
  /** Reuse this server instead of the configured one or a new dev server. */
  address?: string;
}

/**
 * Runs one pipeline through Temporal with an in-process worker: against the configured server when there is
 * one, otherwise a local dev server started (and stopped) here. This is what `enecg run --local` and
 * `enecg demo` do; production runs use `enecg worker` processes and `enecg run`.
 */
export async function runPipelineLocally(options: LocalRunOptions): Promise<PipelineResult> {
  const log = options.log ?? (() => {});
  const server = options.address
    ? { address: options.address, owned: false, stop: async () => {} }
    : await connectOrStartServer({ log });
  try {
    const worker = await createPipelineWorker({
      address: server.address,
      taskQueue: CPU_TASK_QUEUE,
      activities: createActivities(),
    });
    const client = await connectClient(server.address);
    try {
      const runId = options.runId ?? newPipelineRunId();
      log(`starting pipeline run ${runId} on ${server.address}`);
      const handle = await startPipeline(client, options.config, runId);
      return await worker.runUntil(handle.result());
    } finally {
      await client.connection.close();
    }
  } finally {
    await server.stop();
  }
}
