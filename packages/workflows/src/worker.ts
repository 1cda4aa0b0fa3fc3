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
import { type LoopDelayReport, loopDelayInterceptor } from './loop-delay.ts';

const PIPELINE_WORKFLOWS = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));
const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
let runtimeInstalled = false;

/**
 * Heartbeats reach the server at most this often, and with their answers the cancellation requests: a
 * cancelled activity learns it within this interval (Temporal's default is 80% of the heartbeat timeout).
 */
const HEARTBEAT_THROTTLE = '2 seconds';

/** Webpack-bundles a workflow sandbox once per process; every worker of the process shares it. */
function workflowBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (bundle === undefined) {
    bundle = bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    bundles.set(workflowsPath, bundle);
  }
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
  /**
   * Receives the event-loop delay measured during each activity; by default it is logged, as a warning
   * when the loop was held up for over a second.
   */
  onLoopDelay?: (report: LoopDelayReport) => void;
  /** Workflows to serve instead of the pipeline's (a test's own workflows, for instance). */
  workflowsPath?: string;
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
    workflowBundle: await workflowBundle(options.workflowsPath ?? PIPELINE_WORKFLOWS),
    activities: options.activities,
    interceptors: { activity: [loopDelayInterceptor(options.onLoopDelay)] },
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    ...(options.maxConcurrentActivities === undefined
      ? {}
      : { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities }),
    ...(options.identity === undefined ? {} : { identity: options.identity }),
  });
}
