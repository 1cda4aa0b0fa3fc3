import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BatchRing, type BatchRingMemory } from './batch-ring.ts';
import type { RowMatrix } from './dataset.ts';
import type { LossSums } from './shard.ts';
import { type EpochTerms, type FitContext, projectionAssignment, type ShardRunner } from './shard-group.ts';
import type { ShardRequest, ShardWorkerData } from './shard-worker.ts';

type Request = ShardRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/**
 * The package runs from TypeScript source, so a worker thread starts from a small script that
 * registers the TypeScript loader (tsx) in that thread and then imports the worker module.
 */
function workerBootstrap(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8'));
  const api = pathToFileURL(join(dirname(manifest), exports['./esm/api'].import.default)).href;
  const entry = new URL('./shard-worker.ts', import.meta.url).href;
  return `(async () => {
    const { register } = await import(${JSON.stringify(api)});
    register();
    await import(${JSON.stringify(entry)});
  })().catch((error) => { throw error; });`;
}

/** One worker thread and its pending requests (answered in any order, matched by id). */
class Channel {
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  readonly ready: Promise<unknown>;

  constructor(private readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
    worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error !== undefined) waiting?.reject(new Error(`training worker: ${error}`));
      else waiting?.resolve(result);
    });
    const failAll = (error: Error) => {
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`training worker exited with code ${code}`)));
  }

  call<T>(request: Request): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** A matrix the worker threads can read without a copy (a copy is made once if it is not shared yet). */
export function shareable(matrix: RowMatrix): RowMatrix {
  if (matrix.matrix.buffer instanceof SharedArrayBuffer) return matrix;
  const shared = new Float32Array(new SharedArrayBuffer(matrix.matrix.byteLength));
  shared.set(matrix.matrix);
  return { dim: matrix.dim, matrix: shared };
}

/** Shards spread over worker threads (shard i on thread i mod threads), each a `LocalShardGroup` there. */
export class WorkerShardGroup implements ShardRunner {
  private constructor(
    private readonly channels: Channel[],
    private readonly shardsOf: number[][],
    private readonly ring: BatchRingMemory | undefined,
  ) {}

  /** Starts the workers; they compute the frozen first-layer outputs into `context.projections` together. */
  static async start(context: FitContext, shards: number[][], threads: number): Promise<WorkerShardGroup> {
    const prefixes = projectionAssignment(context, threads);
    const shardsOf = Array.from({ length: threads }, (_, w) =>
      shards.map((_, i) => i).filter((i) => i % threads === w),
    );
    // Two workers share the batch gathering: the one with fewer tasks gathers, the other reads.
    const ring = threads === 2 ? BatchRing.allocate(context.shape, context.config.batchSize) : undefined;
    const tasksOf = shardsOf.map((indices) =>
      indices.reduce((sum, i) => sum + (shards[i] as number[]).length, 0),
    );
    const producer = tasksOf.indexOf(Math.min(...tasksOf));
    const channels = shardsOf.map((indices, w) => {
      const workerData: ShardWorkerData = {
        context,
        shards: indices.map((i) => shards[i] as number[]),
        prefixes: prefixes[w] as number[],
        ...(ring ? { feed: { memory: ring, role: w === producer ? 'produce' : 'consume' } } : {}),
      };
      return new Channel(new Worker(workerBootstrap(), { eval: true, workerData }));
    });
    const group = new WorkerShardGroup(channels, shardsOf, ring);
    try {
      await Promise.all(channels.map((channel) => channel.ready));
    } catch (error) {
      await group.dispose();
      throw error;
    }
    return group;
  }

  /**
   * Sends a request to every worker and puts the per-shard answers back in shard order. A failing
   * worker stops the batch ring, so that the other one cannot wait for it forever.
   */
  private async perShard<T>(request: Request): Promise<T[]> {
    const answers = await Promise.all(
      this.channels.map((channel) =>
        channel.call<T[]>(request).catch((error: unknown) => {
          if (this.ring) BatchRing.abort(this.ring);
          throw error;
        }),
      ),
    );
    const out: T[] = [];
    this.shardsOf.forEach((indices, w) => {
      indices.forEach((shard, k) => {
        out[shard] = (answers[w] as T[])[k] as T;
      });
    });
    return out;
  }

  epoch(order: readonly number[], firstStep: number): Promise<EpochTerms> {
    return this.perShard<Float64Array>({ type: 'epoch', order: [...order], firstStep });
  }

  validate(rows: readonly number[]): Promise<LossSums[]> {
    return this.perShard<LossSums>({ type: 'validate', rows: [...rows] });
  }

  async markBest(): Promise<void> {
    await Promise.all(this.channels.map((channel) => channel.call({ type: 'markBest' })));
  }

  bestValues(): Promise<Float32Array[]> {
    return this.perShard<Float32Array>({ type: 'bestValues' });
  }

  async dispose(): Promise<void> {
    if (this.ring) BatchRing.abort(this.ring);
    await Promise.all(this.channels.map((channel) => channel.close()));
  }
}
