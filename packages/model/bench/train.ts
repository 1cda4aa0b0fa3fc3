/**
 * Training-speed benchmark: one epoch over cached features of N records (default 30,000) for all
 * five tasks in one run, against the reference's approach (frozen experts re-run on every batch, one
 * task per run) measured on a few batches in the same process and extrapolated; plus predict latency.
 *
 *   npx tsx bench/train.ts            # BENCH_RECORDS=30000 BENCH_REFERENCE_BATCHES=4 BENCH_THREADS=2,1
 *
 * Ours runs once per thread count in BENCH_THREADS (the first is the headline figure); the runs must
 * give bit-identical curves and weights, which the bench checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EcgRecord, hashObject } from '@enecg/common';
import { createExpert } from '../src/experts/registry.ts';
import type { Expert } from '../src/experts/types.ts';
import { featureSetKey } from '../src/features/index.ts';
import { loadPredictor } from '../src/predict/predict.ts';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { encodeWeights, saveCheckpoint } from '../src/train/checkpoint.ts';
import { resolveTrainConfig } from '../src/train/config.ts';
import type { RowMatrix, TrainingSet } from '../src/train/dataset.ts';
import { disposeWeights, fitModel } from '../src/train/fit.ts';
import { parameterCounts } from '../src/train/model.ts';
import { createRng } from '../src/train/prng.ts';
import { syntheticRecords } from '../test/support/records.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 30_000);
const REFERENCE_BATCHES = Number(process.env.BENCH_REFERENCE_BATCHES ?? 4);
const THREADS = (process.env.BENCH_THREADS ?? '2,1').split(',').map(Number);
/** Embedding widths of the five experts (MOMENT-small, ECG-FM, TEMPO as in backbones.md; DLinear and TimesNet as the registry builds them). */
const EXPERT_DIMS: Record<string, number> = {
  moment: 512,
  'ecg-fm': 768,
  tempo: 768,
  dlinear: 500,
  timesnet: 8000,
};
const GATE_DIM = 5000;

function randomMatrix(rows: number, dim: number, seed: number): RowMatrix {
  const rng = createRng(seed);
  // Shared memory, as the warehouse loader allocates it: worker threads read it without a copy.
  const matrix = new Float32Array(new SharedArrayBuffer(rows * dim * 4));
  for (let i = 0; i < matrix.length; i++) matrix[i] = rng() * 2 - 1;
  return { dim, matrix };
}

function syntheticLabels(n: number, seed: number): TrainingSet['labels'] {
  const rng = createRng(seed);
  return {
    rr_interval: Float64Array.from({ length: n }, () => 600 + 400 * rng()),
    age: Float64Array.from({ length: n }, () => 18 + 73 * rng()),
    gender: Float64Array.from({ length: n }, () => (rng() < 0.5 ? 0 : 1)),
    flag: Float64Array.from({ length: n }, () => (rng() < 0.2 ? 1 : rng() < 0.5 ? 0 : Number.NaN)),
    report_label: Float64Array.from({ length: n }, () => Math.floor(15 * rng())),
  };
}

function cachedSet(n: number, experts: Record<string, RowMatrix>, gate: RowMatrix): TrainingSet {
  return {
    studyIds: Array.from({ length: n }, (_, i) => 40_000_000 + i),
    subjectIds: Array.from({ length: n }, (_, i) => 10_000_000 + Math.floor(i / 2)),
    split: new Array(n).fill('train'),
    fold: new Array(n).fill(0),
    labels: syntheticLabels(n, 7),
    expertFeatures: experts,
    gateInput: gate,
  };
}

function stack(rows: Float32Array[]): RowMatrix {
  const dim = (rows[0] as Float32Array).length;
  const matrix = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => {
    matrix.set(row, i * dim);
  });
  return { dim, matrix };
}

const seconds = (ms: number) => Number((ms / 1000).toFixed(2));
const backend = await ensureTrainingBackend();
const config = resolveTrainConfig({ maxEpochs: 1, patience: 0 });
console.log(
  `backend ${backend.tfBackend}, ${availableParallelism()} cores, batch ${config.batchSize}, hidden ${config.hiddenSize}, LoRA r=${config.lora.rank}`,
);

// 1. Ours: one epoch over cached features, all five tasks in one run.
let start = performance.now();
const experts = Object.fromEntries(
  Object.entries(EXPERT_DIMS).map(([name, dim], e) => [name, randomMatrix(RECORDS, dim, 100 + e)]),
);
const set = cachedSet(RECORDS, experts, randomMatrix(RECORDS, GATE_DIM, 99));
console.log(`generated cached features for ${RECORDS} records in ${seconds(performance.now() - start)} s`);
const rows = { train: set.studyIds.map((_, i) => i), val: [] };
const runs: Array<{ threads: number; wall: number; cpu: number; load: number; fingerprint: string }> = [];
let steps = 0;
let counts = { trainable: 0, total: 0 };
for (const threads of THREADS) {
  start = performance.now();
  const cpuStart = process.cpuUsage();
  const loadBefore = loadavg()[0] as number;
  const fitted = await fitModel(set, config, rows, { threads });
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  steps = fitted.steps;
  counts = parameterCounts(fitted.shape);
  const fingerprint = hashObject({
    curve: fitted.curve,
    weights: encodeWeights(fitted.weights).sha256,
  }).slice(0, 16);
  disposeWeights(fitted.weights);
  const run = {
    threads,
    wall,
    cpu: (cpu.user + cpu.system) / 1000,
    load: Math.max(loadBefore, loadavg()[0] as number),
    fingerprint,
  };
  runs.push(run);
  console.log(
    `ours, ${run.threads} thread(s): one epoch, ${RECORDS} records x 5 tasks x ${Object.keys(EXPERT_DIMS).length} experts: ${seconds(run.wall)} s wall, ` +
      `${seconds(run.cpu)} s CPU (${steps} steps, ${(RECORDS / (run.wall / 1000)).toFixed(0)} records/s; load average up to ${run.load.toFixed(1)} on ${availableParallelism()} cores; weights + curve ${run.fingerprint})`,
  );
}
const headline = runs[0] as (typeof runs)[number];
const oursEpoch = headline.wall;
const oursCpu = headline.cpu;
console.log(
  `ours: ${counts.trainable} trainable of ${counts.total} head/gate parameters; results identical across thread counts: ${new Set(runs.map((run) => run.fingerprint)).size === 1 ? 'yes' : 'NO'}`,
);
// The epoch includes the frozen first layers' outputs, computed once per run and held in memory.
const precomputedBytes = (Object.keys(EXPERT_DIMS).length + 1) * RECORDS * config.hiddenSize * 4;
console.log(
  `ours: frozen first-layer outputs precomputed for ${RECORDS} records (5 experts + gate) x ${config.hiddenSize} float32: ${(precomputedBytes / 2 ** 20).toFixed(0)} MiB`,
);

// 2. Reference: frozen experts re-run on every batch, one task per run. Runs the experts the registry
//    has (DLinear, TimesNet, and the raw-leads gate input) on real-shaped 12-lead records.
const registryExperts: Expert[] = [];
for (const name of ['dlinear', 'timesnet', 'raw-leads'])
  registryExperts.push(await createExpert(name, { seed: 42 }));
const batches: EcgRecord[][] = Array.from({ length: REFERENCE_BATCHES }, (_, b) =>
  syntheticRecords(config.batchSize, 1000 + b),
);
await Promise.all(registryExperts.map((expert) => expert.embed(batches[0] as EcgRecord[])));
let expertMs = 0;
const embedded: Record<string, Float32Array[]> = {};
for (const batch of batches) {
  start = performance.now();
  for (const expert of registryExperts) {
    const out = await expert.embed(batch);
    embedded[expert.name] = [...(embedded[expert.name] ?? []), ...out];
  }
  expertMs += performance.now() - start;
}
const expertPerBatch = expertMs / REFERENCE_BATCHES;
const referenceN = REFERENCE_BATCHES * config.batchSize;
const referenceSet = cachedSet(
  referenceN,
  {
    dlinear: stack(embedded.dlinear as Float32Array[]),
    timesnet: stack(embedded.timesnet as Float32Array[]),
  },
  stack(embedded['raw-leads'] as Float32Array[]),
);
const singleTask = resolveTrainConfig({ maxEpochs: 1, patience: 0, tasks: ['rr_interval'] });
start = performance.now();
const referenceFit = await fitModel(referenceSet, singleTask, {
  train: referenceSet.studyIds.map((_, i) => i),
  val: [],
});
const stepPerBatch = (performance.now() - start) / referenceFit.steps;
disposeWeights(referenceFit.weights);
const stepsPerEpoch = Math.ceil(RECORDS / config.batchSize);
const referenceEpoch = 5 * stepsPerEpoch * (expertPerBatch + stepPerBatch);
console.log(
  `reference: per batch of ${config.batchSize}, experts ${expertPerBatch.toFixed(0)} ms (DLinear + TimesNet + raw leads only) + ` +
    `single-task step ${stepPerBatch.toFixed(1)} ms; measured on ${REFERENCE_BATCHES} batches`,
);
console.log(
  `reference extrapolated: 5 tasks x ${stepsPerEpoch} steps = ${seconds(referenceEpoch)} s per epoch (a lower bound: MOMENT, ECG-FM and TEMPO would add more)`,
);
console.log(
  `speed-up of cached multi-task training over the reference: ${(referenceEpoch / oursEpoch).toFixed(0)}x`,
);
console.log(
  `goal: one epoch under 60 s on 2 cores: ${oursEpoch < 60_000 ? 'met' : 'NOT met'} in wall time (${seconds(oursEpoch)} s, ${headline.threads} thread(s)), ` +
    `${oursCpu < 60_000 ? 'met' : 'NOT met'} in CPU time (${seconds(oursCpu)} s)`,
);

// 3. Predict latency: one record through the frozen experts, the gate and the merged heads.
const predictRecords = syntheticRecords(48, 77);
const predictEmbeddings: Record<string, Float32Array[]> = {};
for (const expert of registryExperts) predictEmbeddings[expert.name] = await expert.embed(predictRecords);
const predictSet = cachedSet(
  predictRecords.length,
  {
    dlinear: stack(predictEmbeddings.dlinear as Float32Array[]),
    timesnet: stack(predictEmbeddings.timesnet as Float32Array[]),
  },
  stack(predictEmbeddings['raw-leads'] as Float32Array[]),
);
const predictFit = await fitModel(predictSet, config, {
  train: predictSet.studyIds.map((_, i) => i),
  val: [],
});
const modelDir = await mkdtemp(join(tmpdir(), 'enecg-bench-'));
await saveCheckpoint(modelDir, encodeWeights(predictFit.weights), {
  modelId: 'bench',
  config,
  shape: predictFit.shape,
  targetScale: predictFit.targetScale,
  trainingCurve: predictFit.curve,
  bestEpoch: predictFit.bestEpoch,
  inputs: [],
  featureCaches: Object.fromEntries(
    registryExperts.map((e) => [e.name, featureSetKey(e.weightsId, e.preprocessingHash)]),
  ),
  backend: backend.tfBackend,
});
disposeWeights(predictFit.weights);
for (const expert of registryExperts) expert.dispose();
start = performance.now();
const predictor = await loadPredictor({ modelDir });
const loadMs = performance.now() - start;
await predictor.predict(predictRecords[0] as EcgRecord);
const latencies: number[] = [];
for (const record of predictRecords.slice(1, 11)) {
  start = performance.now();
  await predictor.predict(record);
  latencies.push(performance.now() - start);
}
latencies.sort((a, b) => a - b);
predictor.dispose();
await rm(modelDir, { recursive: true, force: true });
console.log(
  `predict one record (DLinear + TimesNet + gate, 5 tasks): median ${(latencies[5] as number).toFixed(0)} ms, ` +
    `max ${(latencies[9] as number).toFixed(0)} ms over 10 records; model + experts load ${loadMs.toFixed(0)} ms`,
);

// 4. The two configurations on features with a known signal (the test suite's generator).
const { syntheticTrainingSet } = await import('../test/synthetic-training-set.ts');
const { evaluateOnSplit } = await import('../src/evaluate/evaluate-model.ts');
const { toInferenceModel } = await import('../src/predict/infer.ts');
const { rowsOfSplit } = await import('../src/train/dataset.ts');
const known = syntheticTrainingSet({ studies: 1600, seed: 11 });
const split = { train: rowsOfSplit(known, 'train'), val: rowsOfSplit(known, 'val') };
for (const preset of ['faithful', 'default'] as const) {
  const presetConfig = resolveTrainConfig({ preset, gate: { length: 32 } });
  const presetFit = await fitModel(known, presetConfig, split);
  const tasks = evaluateOnSplit(
    known,
    toInferenceModel(presetFit.shape, presetFit.weights, presetFit.targetScale),
    {
      split: 'test',
      trainRows: split.train,
      replicates: 200,
      seed: 42,
    },
  );
  disposeWeights(presetFit.weights);
  const shown = Object.entries(tasks).map(([task, evaluation]) => {
    const metric = evaluation.kind === 'regression' ? 'mae' : 'f1';
    const value = (m: { value: number; lo: number; hi: number } | undefined) =>
      `${m?.value.toFixed(3)} [${m?.lo.toFixed(3)}, ${m?.hi.toFixed(3)}]`;
    return `${task} ${metric} ${value(evaluation.ensemble[metric])} vs baseline ${evaluation.baseline[metric]?.value.toFixed(3)}`;
  });
  console.log(
    `${preset} (${presetFit.curve.length} epochs, ${parameterCounts(presetFit.shape).trainable} trainable): ${shown.join('; ')}`,
  );
}
