import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { resolveTemporalTarget } from './connection.ts';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

/** Webpack-bundles the workflow sandbox once per process; every worker of the process shares it. */
function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./workflows/index.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

export interface PipelineWorkerOptions {
  /** Overrides the address Temporal's environment configuration gives. */
  address?: string;
  taskQueue: string;
  activities: object;
  /** Activities run at once by this worker; the heavy ones are CPU-bound, so default to the core count. */
  maxConcurrentActivities?: number;
  identity?: string;
}

/** A worker for the pipeline's workflows and the given activities, connected per Temporal's env config. */
export async function createPipelineWorker(options: PipelineWorkerOptions): Promise<Worker> {
  if (!runtimeInstalled) {
    Runtime.install({
      logger: new DefaultLogger((process.env.ENECG_TEMPORAL_LOG_LEVEL as 'WARN') ?? 'WARN'),
    });
    runtimeInstalled = true;
  }
  const target = resolveTemporalTarget(options.address);
  const connection = await NativeConnection.connect(target.connectionOptions);
  return Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: options.activities,
    // Heartbeats carry each stage's progress, which `enecg run` and `enecg status` show: send them every
    // 2 s instead of Temporal's default of most of the heartbeat timeout (24 s here).
    maxHeartbeatThrottleInterval: '2 seconds',
    ...(options.maxConcurrentActivities === undefined
      ? {}
      : { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities }),
    ...(options.identity === undefined ? {} : { identity: options.identity }),
  });
}
