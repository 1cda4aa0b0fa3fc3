import { basename } from 'node:path';
import { codeVersion, datasetDigest, sha256File } from '@enecg/common';
import { deriveLabels, labelSourceFiles } from '@enecg/labels';
import type { BackendChoice } from '@enecg/model';
import { refreshCatalog } from '@enecg/report';
import { Context } from '@temporalio/activity';
import { createSweepActivities } from '../sweep/activities.ts';
import { GPU_TASK_QUEUE } from '../task-queues.ts';
import { promoteIfBetter, readChampion } from './champion.ts';
import { asActivity } from './failures.ts';
import { inStageProcess, type ProgressReporter, withHeartbeat } from './progress.ts';
import { cachedStage } from './stage-cache.ts';

export interface StageInput {
  runId: string;
  warehouse: string;
}

export interface IngestShardInput extends StageInput {
  source: string;
  shard: { index: number; count: number };
  batchSize: number;
}

export interface LabelsInput extends StageInput {
  source: string;
  hosp: string;
  config: Record<string, unknown>;
}

export interface FeaturesInput extends StageInput {
  expert: string;
  weights?: string;
  expertConfig?: Record<string, unknown>;
  seed: number;
  batchSize: number;
  partRows?: number;
  backend: BackendChoice;
}

export interface PretrainInput extends StageInput {
  expert: string;
  expertConfig?: Record<string, unknown>;
  /** Validated by the caller (`resolvePretrainConfig`); absent keys take their defaults. */
  pretrain?: Record<string, unknown>;
  /** A checkpoint to continue from (domain adaptation); absent means the expert's seeded init. */
  weights?: string;
  seed: number;
  backend: BackendChoice;
  /** This attempt stops after this step with a checkpoint; a retry resumes from the last one. */
  untilStep: number;
}

export interface TrainInput extends StageInput {
  config: Record<string, unknown>;
  /** Exact feature sets (`<expert>/<key>`) the config implies, never "the one cache of an expert". */
  experts: string[];
  /** Key of the gate input's (`raw-leads`) feature set. */
  gateCache?: string;
  /** The label table's hash and the feature-set folders the model is trained on: with the config, the cache key. */
  labelsSha256: string;
  /** The label set (`deriveLabels`'s) to train on. */
  labelSet?: string;
  featureSets: string[];
}

export interface EvaluateInput extends StageInput {
  modelId: string;
  replicates: number;
  seed: number;
  /** Test (default) for the report; val for promotion, so that the test split is never selected on. */
  split?: 'test' | 'val';
  /** The label set to evaluate on (default: the model's own). */
  labelSet?: string;
}

/** sha256 of each file, by path. */
async function hashFiles(paths: readonly string[]): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(paths.map(async (path) => [path, await sha256File(path)])));
}

/** Progress that also says what it counts (the expert, the shard): `enecg run` and `status` show it. */
function about(progress: ProgressReporter, subject: Record<string, unknown>): ProgressReporter {
  return (counts) => progress({ ...subject, ...(counts as object) });
}

/**
 * Runs a stage as an activity: heartbeating, error kinds mapped for Temporal, then the auditors' catalog
 * refreshed.
 */
function runStage<T>(warehouse: string, work: (progress: ProgressReporter) => Promise<T>): Promise<T> {
  return asActivity(async () => {
    const result = await withHeartbeat(work);
    await refreshCatalog(warehouse);
    return result;
  });
}

/**
 * The pipeline's activities: each is a thin wrapper that calls the very function its `enecg <stage>`
 * command calls, heartbeats progress, skips work whose inputs are unchanged, refreshes the auditors'
 * catalog, and returns a small summary (paths, hashes, counts). The CPU-bound stages (ingest, features,
 * training, evaluation, report rendering) run in a stage process of their own, so that this worker's
 * event loop stays free for heartbeats and workflow tasks; the others wait on DuckDB or the file system
 * and run here.
 */
export function createActivities() {
  return {
    async ingestShard(input: IngestShardInput) {
      return runStage(input.warehouse, (progress) =>
        inStageProcess(
          'ingest',
          {
            source: input.source,
            warehouse: input.warehouse,
            shard: input.shard,
            batchSize: input.batchSize,
            runId: input.runId,
          },
          about(progress, { shard: input.shard }),
        ),
      );
    },

    async deriveLabels(input: LabelsInput) {
      return runStage(input.warehouse, async () => {
        // Only the tables the rules read count, each hashed once: derivation reuses these hashes.
        const sourceSha256 = await hashFiles(await labelSourceFiles(input));
        const key = {
          stage: 'labels',
          // By file name, so that moving the source folders does not invalidate the cache.
          inputs: Object.fromEntries(
            Object.entries(sourceSha256).map(([path, sha]) => [basename(path), sha]),
          ),
          config: input.config,
          codeVersion: await codeVersion(),
        };
        return cachedStage(input.warehouse, key, async () => {
          const result = await deriveLabels({ ...input, knownSha256: sourceSha256 });
          return { summary: result, outputs: [result.output.path] };
        });
      });
    },

    /** Feature caching goes to GPU workers when at least one is polling their queue. */
    async chooseFeatureQueue(fallback: string): Promise<string> {
      const { client } = Context.current();
      const response = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: GPU_TASK_QUEUE },
        taskQueueType: 2, // activity task queue
      });
      return (response.pollers ?? []).length > 0 ? GPU_TASK_QUEUE : fallback;
    },

    async cacheFeatures(input: FeaturesInput) {
      return runStage(input.warehouse, (progress) =>
        inStageProcess(
          'cacheFeatures',
          {
            warehouse: input.warehouse,
            expert: input.expert,
            expertOptions: { weightsPath: input.weights, seed: input.seed, config: input.expertConfig },
            batchSize: input.batchSize,
            partRows: input.partRows,
            backend: input.backend,
            runId: input.runId,
          },
          about(progress, { expert: input.expert }),
        ),
      );
    },

    /**
     * One segment of a pretraining, in a stage process: resumes from the pretraining's last checkpoint
     * (the previous segment's, or a killed attempt's) and stops after `untilStep`.
     */
    async pretrainSegment(input: PretrainInput) {
      return runStage(input.warehouse, (progress) =>
        inStageProcess(
          'pretrain',
          {
            warehouse: input.warehouse,
            expert: input.expert,
            expertConfig: input.expertConfig,
            config: input.pretrain,
            weightsPath: input.weights,
            seed: input.seed,
            backend: input.backend,
            runId: input.runId,
            untilStep: input.untilStep,
          },
          about(progress, { expert: input.expert }),
        ),
      );
    },

    async trainModel(input: TrainInput) {
      return runStage(input.warehouse, async (progress) => {
        const featureDigests = await Promise.all(input.featureSets.map((dir) => datasetDigest(dir)));
        const key = {
          stage: 'train',
          inputs: { labels: input.labelsSha256, features: featureDigests.map((digest) => digest.sha256) },
          config: { training: input.config, experts: input.experts, gateCache: input.gateCache },
          codeVersion: await codeVersion(),
        };
        return cachedStage(input.warehouse, key, async () => {
          const result = await inStageProcess(
            'train',
            {
              warehouse: input.warehouse,
              runId: input.runId,
              config: input.config,
              experts: input.experts,
              gateCache: input.gateCache,
              labelSet: input.labelSet,
            },
            progress,
          );
          return { summary: result, outputs: [result.modelDir] };
        });
      });
    },

    async evaluateModel(input: EvaluateInput) {
      return runStage(input.warehouse, (progress) =>
        inStageProcess(
          'evaluate',
          {
            warehouse: input.warehouse,
            modelId: input.modelId,
            runId: input.runId,
            replicates: input.replicates,
            seed: input.seed,
            split: input.split,
            labelSet: input.labelSet,
          },
          progress,
        ),
      );
    },

    async readChampion(warehouse: string) {
      return readChampion(warehouse);
    },

    async promoteIfBetter(input: Parameters<typeof promoteIfBetter>[0]) {
      return asActivity(() => promoteIfBetter(input));
    },

    /** Not a `runStage`: rendering refreshes the catalog itself, after recording the report's lineage. */
    async renderRunReport(input: StageInput) {
      return asActivity(() =>
        withHeartbeat(() =>
          inStageProcess('renderReport', { warehouse: input.warehouse, runId: input.runId }),
        ),
      );
    },

    ...createSweepActivities(),
  };
}

export type PipelineActivities = ReturnType<typeof createActivities>;
