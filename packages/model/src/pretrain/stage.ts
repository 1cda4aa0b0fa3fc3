import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetRef } from '@enecg/common';
import {
  appendLineageEvent,
  ConfigError,
  codeVersion,
  describeDataset,
  EnvironmentError,
  hashObject,
  IntegrityError,
  newRunId,
  sha256,
  sha256File,
  warehouseLayout,
  writeFileOnce,
} from '@enecg/common';
import { describeLabelSet } from '@enecg/labels';
// The union package registers every kernel's gradient (tfjs-core alone registers none): with them, a
// kernel the backend lacks is the only thing that can refuse a step.
import '@tensorflow/tfjs';
import type { BackendChoice, BackendInfo } from '../backend/index.ts';
import { backendLabel, parseBackendChoice, tf, withBackend } from '../backend/index.ts';
import { validateExpertConfig } from '../experts/registry.ts';
import { encodeSafetensors } from '../safetensors/index.ts';
import { createRng, deriveSeed, shuffled } from '../train/prng.ts';
import { type PretrainConfig, type PretrainConfigInput, resolvePretrainConfig } from './config.ts';
import { loadPretrainData, snapshotPretrainData } from './data.ts';
import {
  createPretrainTask,
  type ObjectiveDescription,
  type PretrainTask,
  requirePretrainable,
} from './objectives.ts';
import { Adam } from './optimizer.ts';
import { type CurvePoint, findProgress, type Progress, writeProgress } from './progress.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const PRETRAIN_MANIFEST_FILE = 'manifest.json';
const DEFAULT_SEED = 42;

export interface PretrainOptions {
  warehouse: string;
  /** A pretrainable expert (`pretrainableExperts()`). */
  expert: string;
  /** The expert's own config (size, leads, length), as the features stage takes it. */
  expertConfig?: Record<string, unknown>;
  config?: PretrainConfigInput;
  /** Continue from this checkpoint (a converted published one: domain adaptation) instead of a seeded init. */
  weightsPath?: string;
  seed?: number;
  backend?: BackendChoice;
  runId?: string;
  onProgress?: (progress: PretrainProgress) => void;
}

export interface PretrainSegmentOptions extends PretrainOptions {
  /**
   * Stop after this step with a resumable checkpoint instead of finishing: a workflow runs a long
   * pretraining as segments, each a short activity. Absent: run to the end.
   */
  untilStep?: number;
}

/** Where a segment left a pretraining: finished (with its summary), or paused after `step`. */
export type PretrainSegment =
  | { finished: true; summary: PretrainSummary }
  | { finished: false; pretrainId: string; step: number; steps: number; resumedFrom: number };

export interface PretrainProgress {
  step: number;
  steps: number;
  /** Mean training loss since the previous report. */
  trainLoss: number;
  heldOutLoss: number;
}

export interface PretrainManifest {
  pretrainId: string;
  expert: string;
  expertConfig: Record<string, unknown>;
  objective: ObjectiveDescription & { maskRatio: number };
  config: PretrainConfig;
  seed: number;
  /** The starting point: a checkpoint's sha256 or `random-init:<seed>`. */
  initialWeights: string;
  data: {
    trainSha256: string;
    heldOutSha256: string;
    trainRecords: number;
    heldOutRecords: number;
    trainSubjects: number;
    heldOutSubjects: number;
    skipped: Array<{ studyId: number; reason: string }>;
  };
  /** TensorFlow.js's backend name: results are deterministic per backend. */
  tfBackend: string;
  lossCurve: CurvePoint[];
  heldOutLoss: { initial: number; final: number };
  checkpoint: { file: string; sha256: string; bytes: number };
  codeVersion: Awaited<ReturnType<typeof codeVersion>>;
}

export interface PretrainSummary {
  runId: string;
  pretrainId: string;
  expert: string;
  dir: string;
  /** The checkpoint to name as the expert's weights (`experts: [{ weights }]`, `--weights`). */
  checkpoint: string;
  checkpointSha256: string;
  manifest: string;
  /**
   * True when an identical pretraining had finished before this call (nothing trained) or finished
   * first while this one ran (a concurrent run or an overlapping retry; this one stopped): the result is
   * that pretraining's.
   */
  reused: boolean;
  /** The step a killed run's checkpoint let this one start after (0: from the start). */
  resumedFrom: number;
  steps: number;
  trainRecords: number;
  heldOutRecords: number;
  heldOutLoss: { initial: number; final: number };
  backend: string;
  /** User + system CPU seconds of this call (0 when reused). */
  cpuSeconds: number;
}

/** `<warehouse>/pretrain/<expert>/<pretrainId>/`. */
export function pretrainDir(warehouse: string, expert: string, pretrainId: string): string {
  return join(warehouse, 'pretrain', expert, pretrainId);
}

/**
 * Self-supervised pretraining of one expert on the warehouse's training-split ECGs (never a label):
 * masked reconstruction with the expert's own tensors, Adam, every step's batch and mask derived from
 * (seed, step). A checkpoint of weights, optimiser state and step every `checkpointEvery` steps lets a
 * killed run resume to the same bytes; the result is a safetensors checkpoint in the layout the expert
 * loads, a manifest, and a lineage event. An identical finished pretraining is reused.
 */
export async function pretrainExpert(options: PretrainOptions): Promise<PretrainSummary> {
  const segment = await pretrainSegment(options);
  if (!segment.finished) throw new Error('a pretraining without untilStep always finishes');
  return segment.summary;
}

/** Runs a pretraining up to `options.untilStep` (resuming where a previous segment or killed run left it). */
export async function pretrainSegment(options: PretrainSegmentOptions): Promise<PretrainSegment> {
  if (options.untilStep !== undefined && !(Number.isInteger(options.untilStep) && options.untilStep >= 1)) {
    throw new ConfigError(`${options.untilStep} is not a positive integer`, 'untilStep');
  }
  validateExpertConfig(options.expert, options.expertConfig);
  requirePretrainable(options.expert, options.expertConfig);
  const config = resolvePretrainConfig(options.config as Record<string, unknown> | undefined);
  const backend = parseBackendChoice(options.backend ?? 'auto');
  const seed = options.seed ?? DEFAULT_SEED;
  const runId = options.runId ?? newRunId();
  return withBackend(backend, async (info) => {
    if (info.choice === 'cpu' && backend !== 'cpu') {
      throw new EnvironmentError(
        'pretraining would run on the pure-JavaScript cpu backend, far too slow to train on',
        'run `npx enecg setup` to build the native TensorFlow backend, or ask for it with --backend cpu',
      );
    }
    const task = await createPretrainTask(options.expert, {
      seed,
      ...(options.expertConfig ? { config: options.expertConfig } : {}),
      ...(options.weightsPath ? { weightsPath: options.weightsPath } : {}),
    });
    try {
      return await run(task, options, config, seed, runId, info);
    } finally {
      task.dispose();
    }
  });
}

async function run(
  task: PretrainTask,
  options: PretrainSegmentOptions,
  config: PretrainConfig,
  seed: number,
  runId: string,
  info: BackendInfo,
): Promise<PretrainSegment> {
  const started = process.cpuUsage();
  const snapshot = await snapshotPretrainData(options.warehouse, config.heldOutFraction, config.maxRecords);
  const identity = {
    expert: task.expert,
    objective: task.objective,
    settings: task.settings,
    preprocess: task.preprocess,
    config,
    seed,
    initialWeights: task.initialWeights,
    data: { train: snapshot.trainSha256, heldOut: snapshot.heldOutSha256 },
    tfBackend: info.tfBackend,
  };
  const pretrainId = hashObject(identity).slice(0, 16);
  const dir = pretrainDir(options.warehouse, task.expert, pretrainId);
  const manifestPath = join(dir, PRETRAIN_MANIFEST_FILE);
  const checkpointPath = join(dir, CHECKPOINT_FILE);
  const summaryOf = (manifest: PretrainManifest, reused: boolean, resumedFrom: number): PretrainSummary => ({
    runId,
    pretrainId,
    expert: task.expert,
    dir,
    checkpoint: checkpointPath,
    checkpointSha256: manifest.checkpoint.sha256,
    manifest: manifestPath,
    reused,
    resumedFrom,
    steps: config.steps,
    trainRecords: manifest.data.trainRecords,
    heldOutRecords: manifest.data.heldOutRecords,
    heldOutLoss: manifest.heldOutLoss,
    backend: backendLabel(info)!,
    cpuSeconds: reused ? 0 : cpuSecondsSince(started),
  });
  /** The finished pretraining of this identity, checked, when one is there (ours or a concurrent run's). */
  const finished = async (resumedFrom: number): Promise<PretrainSegment | undefined> => {
    if (!existsSync(manifestPath)) return undefined;
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as PretrainManifest;
    if (!existsSync(checkpointPath) || (await sha256File(checkpointPath)) !== manifest.checkpoint.sha256) {
      throw new IntegrityError('the checkpoint differs from the one its manifest records', checkpointPath);
    }
    return { finished: true, summary: summaryOf(manifest, true, resumedFrom) };
  };
  const done = await finished(0);
  if (done) return done;

  const data = await loadPretrainData(options.warehouse, snapshot, task.preprocess);
  const names = [...task.parameters.keys()].sort();
  const variables = names.map((name) => task.parameters.get(name)!);
  const adam = new Adam(variables, config.learningRate, config.clipNorm);
  try {
    const progressDir = join(dir, 'progress');
    const resumed = await findProgress(progressDir, pretrainId, names);
    let curve: CurvePoint[] = [];
    let start = 0;
    // Training losses since the last curve point: a segment may pause between points.
    let lossSum = 0;
    let lossCount = 0;
    if (resumed) {
      restore(resumed, names, variables, adam);
      curve = resumed.curve;
      start = resumed.step;
      lossSum = resumed.pending.sum;
      lossCount = resumed.pending.count;
    } else {
      curve = [{ step: 0, trainLoss: null, heldOutLoss: heldOutLoss(task, data.heldOut, config, seed) }];
    }
    if (options.untilStep !== undefined && options.untilStep <= start && start < config.steps) {
      // A checkpoint beyond this segment's end (a killed attempt of a later segment got there).
      return { finished: false, pretrainId, step: start, steps: config.steps, resumedFrom: start };
    }
    const batches = new BatchOrder(data.train.length, config.batchSize, seed);
    const state = (step: number) => ({
      pretrainId,
      step,
      curve,
      pending: { sum: lossSum, count: lossCount },
      names,
      variables,
      m: adam.m,
      v: adam.v,
    });
    /**
     * Saves a resumable checkpoint, unless an identical run (a retry overlapping its stuck first attempt)
     * finished meanwhile: its result is then this one's. A write can fail only because that run removed
     * the progress folder.
     */
    const saveProgress = async (step: number): Promise<PretrainSegment | undefined> => {
      const concurrent = await finished(start);
      if (concurrent) return concurrent;
      try {
        await writeProgress(progressDir, state(step));
        return undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(manifestPath)) {
          return finished(start);
        }
        throw error;
      }
    };
    for (let step = start + 1; step <= config.steps; step++) {
      const inputs = batches.at(step).map((index) => data.train[index]!);
      const hidden = maskFor(task.maskUnits, inputs.length, config.maskRatio, deriveSeed(seed, 'mask', step));
      lossSum += trainStep(task, adam, variables, inputs, hidden, step);
      lossCount++;
      const point =
        step % config.checkpointEvery === 0 || step === config.steps
          ? {
              step,
              trainLoss: lossSum / lossCount,
              heldOutLoss: heldOutLoss(task, data.heldOut, config, seed),
            }
          : undefined;
      if (point) {
        curve.push(point);
        lossSum = 0;
        lossCount = 0;
      }
      // The last step needs no resumable checkpoint: the final one is written next.
      if (step < config.steps && (point || step === options.untilStep)) {
        const concurrent = await saveProgress(step);
        if (concurrent) return concurrent;
      }
      if (point) options.onProgress?.({ steps: config.steps, ...point });
      if (step === options.untilStep && step < config.steps) {
        return { finished: false, pretrainId, step, steps: config.steps, resumedFrom: start };
      }
    }

    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, tensor] of [...task.parameters, ...task.fixed]) {
      if (task.notInCheckpoint.has(name)) continue;
      tensors[name] = { shape: [...tensor.shape], data: (await tensor.data()) as Float32Array };
    }
    const bytes = encodeSafetensors(tensors, {
      format: 'pt',
      enecg_pretrain_id: pretrainId,
      enecg_objective: task.objective.name,
    });
    // Written once: a concurrent identical run that got there first must have written the same bytes.
    if (
      !(await writeFileOnce(checkpointPath, bytes)) &&
      (await sha256File(checkpointPath)) !== sha256(bytes)
    ) {
      throw new IntegrityError(
        'a concurrent run of this pretraining wrote another checkpoint: training is not deterministic here',
        checkpointPath,
      );
    }
    const heldOut = { initial: curve[0]!.heldOutLoss, final: curve.at(-1)!.heldOutLoss };
    const manifest: PretrainManifest = {
      pretrainId,
      expert: task.expert,
      expertConfig: options.expertConfig ?? {},
      objective: { ...task.objective, maskRatio: config.maskRatio },
      config,
      seed,
      initialWeights: task.initialWeights,
      data: {
        trainSha256: snapshot.trainSha256,
        heldOutSha256: snapshot.heldOutSha256,
        trainRecords: data.train.length,
        heldOutRecords: data.heldOut.length,
        trainSubjects: snapshot.trainSubjects,
        heldOutSubjects: snapshot.heldOutSubjects,
        skipped: data.skipped,
      },
      tfBackend: info.tfBackend,
      lossCurve: curve,
      heldOutLoss: heldOut,
      checkpoint: { file: CHECKPOINT_FILE, sha256: sha256(bytes), bytes: bytes.byteLength },
      codeVersion: await codeVersion(),
    };
    if (!(await writeFileOnce(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`))) {
      // A concurrent identical run finished first and recorded it.
      return (await finished(start))!;
    }
    await rm(progressDir, { recursive: true, force: true });
    const summary = summaryOf(manifest, false, start);
    await recordLineage(options, summary, manifest, info, runId);
    return { finished: true, summary };
  } finally {
    adam.dispose();
  }
}

function trainStep(
  task: PretrainTask,
  adam: Adam,
  variables: tf.Variable[],
  inputs: Float32Array[],
  hidden: Float32Array,
  step: number,
): number {
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
  try {
    result = tf.variableGrads(() => task.loss(inputs, hidden), variables);
  } catch (error) {
    throw refuseMissingKernel(error);
  }
  const loss = result.value.dataSync()[0]!;
  result.value.dispose();
  const gradients = variables.map((variable) => result.grads[variable.name]!);
  adam.apply(gradients, step);
  for (const gradient of gradients) gradient.dispose();
  return loss;
}

/** A kernel or gradient the active backend lacks is refused by name, never run on the slow cpu backend. */
function refuseMissingKernel(error: unknown): unknown {
  const message = (error as Error).message ?? '';
  const missing =
    /Kernel '(\w+)' not registered for backend '(\w+)'|gradient function not found for (\w+)/.exec(message);
  if (!missing) return error;
  return new EnvironmentError(
    `pretraining needs ${missing[1] ? `the ${missing[1]} kernel` : `a gradient of ${missing[3]}`}, which the ${tf.getBackend()} backend lacks (${message})`,
    'run `npx enecg setup` to build the native TensorFlow backend (autodiff runs there), then pretrain with --backend node',
  );
}

/** Mean reconstruction loss over the held-out records, each with its own fixed mask: comparable across steps. */
function heldOutLoss(
  task: PretrainTask,
  records: Float32Array[],
  config: PretrainConfig,
  seed: number,
): number {
  if (records.length === 0) return Number.NaN;
  let total = 0;
  for (let start = 0; start < records.length; start += config.batchSize) {
    const chunk = records.slice(start, start + config.batchSize);
    const hidden = new Float32Array(chunk.length * task.maskUnits);
    chunk.forEach((_, i) => {
      hidden.set(
        maskFor(task.maskUnits, 1, config.maskRatio, deriveSeed(seed, 'held-out', start + i)),
        i * task.maskUnits,
      );
    });
    const loss = tf.tidy(() => task.loss(chunk, hidden));
    total += loss.dataSync()[0]! * chunk.length;
    loss.dispose();
  }
  return total / records.length;
}

/** round(ratio * units) distinct hidden units per record (at least one), drawn from a seeded stream. */
function maskFor(units: number, records: number, ratio: number, streamSeed: number): Float32Array {
  const rng = createRng(streamSeed);
  const count = Math.max(1, Math.min(units, Math.round(ratio * units)));
  const hidden = new Float32Array(records * units);
  const order = Array.from({ length: units }, (_, i) => i);
  for (let record = 0; record < records; record++) {
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(rng() * (units - i));
      [order[i], order[j]] = [order[j]!, order[i]!];
      hidden[record * units + order[i]!] = 1;
    }
  }
  return hidden;
}

/** Step s's batch: positions (s-1)*B .. s*B-1 of a sequence of seeded epoch permutations of the records. */
class BatchOrder {
  private epoch = -1;
  private permutation: number[] = [];

  constructor(
    private readonly records: number,
    private readonly batchSize: number,
    private readonly seed: number,
  ) {}

  at(step: number): number[] {
    const out: number[] = [];
    for (let position = (step - 1) * this.batchSize; out.length < this.batchSize; position++) {
      const epoch = Math.floor(position / this.records);
      if (epoch !== this.epoch) {
        this.epoch = epoch;
        const indices = Array.from({ length: this.records }, (_, i) => i);
        this.permutation = shuffled(indices, createRng(deriveSeed(this.seed, 'epoch', epoch)));
      }
      out.push(this.permutation[position % this.records]!);
    }
    return out;
  }
}

function restore(progress: Progress, names: string[], variables: tf.Variable[], adam: Adam): void {
  names.forEach((name, i) => {
    const take = (key: string) => {
      const tensor = progress.tensors.get(key)!;
      return tf.tensor(tensor.data, tensor.shape, 'float32');
    };
    for (const [target, key] of [
      [variables[i]!, `parameter/${name}`],
      [adam.m[i]!, `adam.m/${name}`],
      [adam.v[i]!, `adam.v/${name}`],
    ] as const) {
      const value = take(key);
      target.assign(value);
      value.dispose();
    }
  });
}

function cpuSecondsSince(started: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1e6;
}

async function recordLineage(
  options: PretrainOptions,
  summary: PretrainSummary,
  manifest: PretrainManifest,
  info: BackendInfo,
  runId: string,
): Promise<void> {
  const { waveforms } = warehouseLayout(options.warehouse);
  const inputs: DatasetRef[] = [
    ...(existsSync(waveforms) ? [await describeDataset('waveforms', waveforms)] : []),
    await describeLabelSet(options.warehouse).then(({ path, sha256, rows, bytes }) => ({
      name: 'labels (split column only)',
      path,
      sha256,
      rows,
      bytes,
    })),
  ];
  if (options.weightsPath) inputs.push(await describeDataset('weights', options.weightsPath));
  await appendLineageEvent(options.warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId },
    job: { name: `pretrain/${summary.expert}` },
    inputs,
    outputs: [
      { name: `pretrain/${summary.expert}`, path: summary.checkpoint, sha256: summary.checkpointSha256 },
      await describeDataset('pretrain manifest', summary.manifest),
    ],
    facets: {
      codeVersion: manifest.codeVersion,
      seed: manifest.seed,
      config: { expert: summary.expert, expertConfig: manifest.expertConfig, ...manifest.config },
      backend: backendLabel(info),
      pretrainId: summary.pretrainId,
      objective: manifest.objective,
      initialWeights: manifest.initialWeights,
      data: { trainSha256: manifest.data.trainSha256, heldOutSha256: manifest.data.heldOutSha256 },
      heldOutLoss: manifest.heldOutLoss,
      resumedFrom: summary.resumedFrom,
      cpuSeconds: summary.cpuSeconds,
    },
  });
}
