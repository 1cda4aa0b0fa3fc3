/** Worker-thread entry: trains the shards it is given, answering the main thread's `ShardRunner` calls. */
import { parentPort, workerData } from 'node:worker_threads';
import { ensureTrainingBackend } from './backend.ts';
import { BatchRing, type BatchRingMemory } from './batch-ring.ts';
import { type FitContext, LocalShardGroup, project } from './shard-group.ts';

export interface ShardWorkerData {
  context: FitContext;
  shards: number[][];
  /** Projected prefixes this worker computes into the shared projection buffers. */
  prefixes: number[];
  /** With two workers: the shared batch ring and whether this one fills it or reads it. */
  feed?: { memory: BatchRingMemory; role: 'produce' | 'consume' };
}

export type ShardRequest =
  | { id: number; type: 'epoch'; order: number[]; firstStep: number }
  | { id: number; type: 'validate'; rows: number[] }
  | { id: number; type: 'markBest' }
  | { id: number; type: 'bestValues' };

const port = parentPort;
if (!port) throw new Error('shard-worker.ts runs as a worker thread');
const { context, shards, prefixes, feed } = workerData as ShardWorkerData;
try {
  await ensureTrainingBackend();
  project(context, prefixes);
  const group = new LocalShardGroup(
    context,
    shards,
    feed && { ring: new BatchRing(feed.memory, context.shape, context.config.batchSize), role: feed.role },
  );
  port.on('message', async (request: ShardRequest) => {
    try {
      const result =
        request.type === 'epoch'
          ? await group.epoch(request.order, request.firstStep)
          : request.type === 'validate'
            ? await group.validate(request.rows)
            : request.type === 'markBest'
              ? await group.markBest()
              : await group.bestValues();
      port.postMessage({ id: request.id, result });
    } catch (error) {
      port.postMessage({ id: request.id, error: (error as Error).stack ?? String(error) });
    }
  });
  port.postMessage({ id: 0, result: 'ready' });
} catch (error) {
  port.postMessage({ id: 0, error: (error as Error).stack ?? String(error) });
}
