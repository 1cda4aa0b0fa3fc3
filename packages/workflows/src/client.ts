import { randomUUID } from 'node:crypto';
import { resolveLakeCatalog } from '@enecg/common';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { PipelineConfig } from './config.ts';
import { resolveTemporalTarget } from './connection.ts';
import { CPU_TASK_QUEUE } from './task-queues.ts';
import type { PipelineResult } from './workflows/pipeline.ts';

/** A Temporal client per Temporal's environment configuration (or the given address). */
export async function connectClient(address?: string): Promise<Client> {
  const target = resolveTemporalTarget(address);
  const { address: resolvedAddress, tls, apiKey, metadata } = target.connectionOptions;
  const connection = await Connection.connect({
    address: resolvedAddress,
    tls,
    apiKey: typeof apiKey === 'string' ? apiKey : undefined,
    metadata,
  });
  return new Client({ connection, namespace: target.namespace });
}

/** Run ids sort by start time and are unique: `run-20261125T150700Z-1a2b3c4d`. */
export function newPipelineRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `run-${stamp}-${randomUUID().slice(0, 8)}`;
}

/**
 * Starts the pipeline workflow; its workflow id is the run id that lineage and reports use. The warehouse's
 * catalog is settled first (recorded in lake.json, where every worker finds it; a conflicting one is refused).
 */
export async function startPipeline(
  client: Client,
  config: PipelineConfig,
  runId = newPipelineRunId(),
): Promise<WorkflowHandle<(input: { config: PipelineConfig }) => Promise<PipelineResult>>> {
  await resolveLakeCatalog(config.warehouse, config.warehouseCatalog);
  return client.workflow.start('enecgPipeline', {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: runId,
    args: [{ config }],
  });
}
