import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, EnvironmentError } from '@enecg/common';
import { ingest, readWaveforms } from '@enecg/ingest';
import { deriveLabels, readLabels } from '@enecg/labels';
import { generateSynthetic } from '@enecg/synth';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedBackends } from '../src/backend/index.ts';
import { createExpert } from '../src/experts/registry.ts';
import {
  type PretrainOptions,
  type PretrainSummary,
  pretrainExpert,
  pretrainSegment,
  resolvePretrainConfig,
} from '../src/pretrain/index.ts';
import { readSafetensors, type TensorsToWrite, writeSafetensors } from '../src/safetensors/index.ts';

const native = installedBackends().find((choice) => choice === 'node' || choice === 'node-gpu');
const DLINEAR = { leads: ['II'], length: 200 };
const MOMENT = { length: 128, model: { seqLen: 128 } };
/** Two 640-sample segments per record: 40 conv frames of 16 samples each, 4 maskable spans per segment. */
const ECGFM = { length: 1280, model: { segmentLength: 640 } };

const SUBJECTS = 120;

/**
 * The same cohort gives the same warehouse contents (and so the same pretraining identity) wherever it is
 * built; a lake warehouse cannot be copied (its catalog records its data path).
 */
async function syntheticWarehouse(subjects: number): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'enecg-pretrain-'));
  const source = join(root, 'mimic');
  const warehouse = join(root, 'warehouse');
  await generateSynthetic({ subjects, outDir: source, seed: 23 });
  await ingest({ source, warehouse });
  await deriveLabels({ source, hosp: join(source, 'hosp'), warehouse });
  return warehouse;
}

/** A pretraining in a process of its own (support/pretrain-child.ts prints its summary on stdout). */
function pretrainChild(options: PretrainOptions, stdout: 'ignore' | 'pipe') {
  return spawn(
    process.execPath,
    [
      // tsx's loader in this very process (tsx's CLI would run the script in a grandchild, which a
      // SIGKILL to the CLI leaves running).
      '--import',
      pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
      join(import.meta.dirname, 'support/pretrain-child.ts'),
      JSON.stringify(options),
    ],
    { stdio: ['ignore', stdout, 'pipe'] },
  );
}

async function someRecords(warehouse: string) {
  for await (const batch of readWaveforms({ warehouse, batchSize: 3 })) return batch;
  throw new Error('no records');
}

describe('pretrainExpert: self-supervised pretraining on the warehouse', { timeout: 300_000 }, () => {
  let warehouse: string;
  beforeAll(async () => {
    warehouse = await syntheticWarehouse(SUBJECTS);
  }, 120_000);

  it('refuses an expert without an objective and a bad setting before reading anything', async () => {
    await expect(pretrainExpert({ warehouse, expert: 'tempo' })).rejects.toThrow(
      /no self-supervised objective/,
    );
    await expect(
      pretrainExpert({
        warehouse,
        expert: 'ecgfm',
        expertConfig: { ...ECGFM, model: { ...ECGFM.model, labels: 17 } },
      }),
    ).rejects.toThrow(/ecgfm\.model\.labels/);
    expect(() => resolvePretrainConfig({ maskRatio: 1.5 })).toThrow(ConfigError);
    expect(() => resolvePretrainConfig({ stepz: 3 })).toThrow(/pretrain\.stepz/);
  });

  it('DLinear: held-out reconstruction loss goes down, only training-split subjects are read, the checkpoint loads strictly by name, and an identical run is reused', async () => {
    const options: PretrainOptions = {
      warehouse,
      expert: 'dlinear',
      expertConfig: DLINEAR,
      config: { steps: 60, checkpointEvery: 20, batchSize: 8, heldOutFraction: 0.25 },
      backend: native ?? 'wasm',
    };
    const summary = await pretrainExpert(options);
    expect(summary.reused).toBe(false);
    expect(summary.heldOutLoss.final).toBeLessThan(summary.heldOutLoss.initial * 0.95);

    const labels = await readLabels(warehouse);
    const manifest = JSON.parse(await readFile(summary.manifest, 'utf8'));
    const trainSubjects = new Set(labels.filter((row) => row.split === 'train').map((row) => row.subjectId));
    expect(manifest.data.trainSubjects + manifest.data.heldOutSubjects).toBe(trainSubjects.size);
    expect(manifest.data.trainRecords + manifest.data.heldOutRecords).toBe(
      labels.filter((row) => row.split === 'train').length,
    );
    expect(manifest.lossCurve.map((point: { step: number }) => point.step)).toEqual([0, 20, 40, 60]);
    expect(manifest.objective).toMatchObject({ name: 'masked-reconstruction', units: 20, maskRatio: 0.3 });

    const stored = await readSafetensors(summary.checkpoint);
    expect([...stored.tensors.keys()].sort()).toEqual([
      'Linear_Seasonal.bias',
      'Linear_Seasonal.weight',
      'Linear_Trend.bias',
      'Linear_Trend.weight',
    ]);
    const pretrained = await createExpert('dlinear', {
      seed: 42,
      config: DLINEAR,
      weightsPath: summary.checkpoint,
    });
    const initial = await createExpert('dlinear', { seed: 42, config: DLINEAR });
    const records = await someRecords(warehouse);
    const [a, b] = [await pretrained.embed(records), await initial.embed(records)];
    expect(a[0]).toHaveLength(200);
    expect(Array.from(a[0]!)).not.toEqual(Array.from(b[0]!));
    pretrained.dispose();
    initial.dispose();

    const again = await pretrainExpert(options);
    expect(again).toMatchObject({ reused: true, checkpointSha256: summary.checkpointSha256 });
    const events = await readdir(join(warehouse, 'lineage', 'events'));
    const pretrainEvents = [];
    for (const name of events) {
      const event = JSON.parse(await readFile(join(warehouse, 'lineage', 'events', name), 'utf8'));
      if (event.job.name === 'pretrain/dlinear') pretrainEvents.push(event);
    }
    expect(pretrainEvents).toHaveLength(1);
    expect(pretrainEvents[0].outputs[0]).toMatchObject({ sha256: summary.checkpointSha256 });
  });

  it.skipIf(!native)(
    `MOMENT: masked patch reconstruction lowers held-out loss and writes a checkpoint the expert loads strictly by name${native ? '' : ' (skipped: no native TensorFlow backend built; run `npx enecg setup`)'}`,
    async () => {
      const summary = await pretrainExpert({
        warehouse,
        expert: 'moment',
        expertConfig: MOMENT,
        config: { steps: 60, checkpointEvery: 30, batchSize: 8, learningRate: 0.005, heldOutFraction: 0.25 },
        backend: native!,
      });
      expect(summary.heldOutLoss.final).toBeLessThan(summary.heldOutLoss.initial * 0.97);
      const stored = await readSafetensors(summary.checkpoint);
      expect(stored.tensors.get('head.linear.weight')?.shape).toEqual([8, 32]);
      expect(stored.tensors.has('encoder.block.1.layer.1.DenseReluDense.wo.weight')).toBe(true);
      const expert = await createExpert('moment', {
        seed: 42,
        config: MOMENT,
        weightsPath: summary.checkpoint,
      });
      const embeddings = await expert.embed(await someRecords(warehouse));
      expect(embeddings[0]).toHaveLength(32);
      expect(embeddings[0]!.every(Number.isFinite)).toBe(true);
      expert.dispose();
    },
  );

  it.skipIf(!native)(
    `TimesNet: masked segment reconstruction (TSLib's imputation setup) lowers held-out loss; the checkpoint leaves the imputation head out and loads strictly${native ? '' : ' (skipped: no native TensorFlow backend built)'}`,
    async () => {
      const expertConfig = { length: 200 };
      const summary = await pretrainExpert({
        warehouse,
        expert: 'timesnet',
        expertConfig,
        config: { steps: 30, checkpointEvery: 15, batchSize: 8, heldOutFraction: 0.25 },
        backend: native!,
      });
      expect(summary.heldOutLoss.final).toBeLessThan(summary.heldOutLoss.initial * 0.9);
      const stored = await readSafetensors(summary.checkpoint);
      expect([...stored.tensors.keys()].some((name) => name.startsWith('projection.'))).toBe(false);
      expect(stored.tensors.get('model.1.conv.2.kernels.5.weight')?.shape).toEqual([16, 32, 11, 11]);
      const expert = await createExpert('timesnet', {
        seed: 42,
        config: expertConfig,
        weightsPath: summary.checkpoint,
      });
      const embeddings = await expert.embed(await someRecords(warehouse));
      expect(embeddings[0]).toHaveLength(200 * 16);
      expect(embeddings[0]!.every(Number.isFinite)).toBe(true);
      expert.dispose();
    },
  );

  it.skipIf(!native)(
    `ECG-FM: wav2vec 2.0-style masked frames reconstructed from the encoder lower held-out loss; mask_emb is written, the head is not, and the expert loads the checkpoint strictly${native ? '' : ' (skipped: no native TensorFlow backend built)'}`,
    async () => {
      const summary = await pretrainExpert({
        warehouse,
        expert: 'ecgfm',
        expertConfig: ECGFM,
        config: { steps: 40, checkpointEvery: 20, batchSize: 8, learningRate: 0.003, heldOutFraction: 0.25 },
        backend: native!,
      });
      expect(summary.heldOutLoss.final).toBeLessThan(summary.heldOutLoss.initial * 0.9);
      const manifest = JSON.parse(await readFile(summary.manifest, 'utf8'));
      expect(manifest.objective).toMatchObject({
        unit: 'span of 10 conv frames (160 samples)',
        units: 8,
        maskRatio: 0.3,
      });
      const stored = await readSafetensors(summary.checkpoint);
      expect(stored.tensors.get('mask_emb')?.shape).toEqual([32]);
      expect(stored.tensors.get('encoder.layers.1.fc2.weight')?.shape).toEqual([32, 64]);
      expect([...stored.tensors.keys()].some((name) => name.startsWith('reconstruction_head.'))).toBe(false);
      const records = await someRecords(warehouse);
      const pretrained = await createExpert('ecgfm', {
        seed: 42,
        config: ECGFM,
        weightsPath: summary.checkpoint,
      });
      const initial = await createExpert('ecgfm', { seed: 42, config: ECGFM });
      const [a, b] = [await pretrained.embed(records), await initial.embed(records)];
      expect(a[0]).toHaveLength(32);
      expect(a[0]!.every(Number.isFinite)).toBe(true);
      expect(Array.from(a[0]!)).not.toEqual(Array.from(b[0]!));
      pretrained.dispose();
      initial.dispose();

      // Continued from the fine-tuned classifier's layout (the encoder under `encoder.`, a head and
      // pretraining-only modules beside it): its mask_emb is the start, and the layout is kept.
      const finetuned = join(await mkdtemp(join(tmpdir(), 'enecg-ecgfm-')), 'finetuned.safetensors');
      const layout: TensorsToWrite = {
        'proj.weight': { shape: [17, 32], data: new Float32Array(17 * 32) },
        'proj.bias': { shape: [17], data: new Float32Array(17) },
        'encoder.quantizer.vars': { shape: [1, 4, 2], data: new Float32Array(8) },
      };
      for (const [name, tensor] of stored.tensors) layout[`encoder.${name}`] = tensor;
      await writeSafetensors(finetuned, layout);
      const steps = 4;
      const learningRate = 0.001;
      const continued = await pretrainExpert({
        warehouse,
        expert: 'ecgfm',
        expertConfig: ECGFM,
        weightsPath: finetuned,
        config: { steps, checkpointEvery: steps, batchSize: 4, learningRate, heldOutFraction: 0.25 },
        backend: native!,
      });
      const written = await readSafetensors(continued.checkpoint);
      expect([...written.tensors.keys()].sort()).toEqual(
        [...stored.tensors.keys()].map((name) => `encoder.${name}`).sort(),
      );
      const start = stored.tensors.get('mask_emb')!.data;
      const moved = written.tensors
        .get('encoder.mask_emb')!
        .data.map((value, i) => Math.abs(value - start[i]!));
      // Adam moves a value by about the learning rate per step; a seeded mask_emb would be far off.
      expect(Math.max(...moved)).toBeLessThan(2 * steps * learningRate);
      const adapted = await createExpert('ecgfm', {
        seed: 42,
        config: ECGFM,
        weightsPath: continued.checkpoint,
      });
      expect((await adapted.embed(records))[0]!.every(Number.isFinite)).toBe(true);
      adapted.dispose();
    },
  );

  it.skipIf(!native).each([
    { expert: 'moment', expertConfig: MOMENT, batchSize: 8 },
    { expert: 'ecgfm', expertConfig: ECGFM, batchSize: 4 },
  ])(
    `$expert resumes after its process is killed to the same bytes as an uninterrupted run${native ? '' : ' (skipped: no native TensorFlow backend built)'}`,
    async ({ expert, expertConfig, batchSize }) => {
      const copy = await syntheticWarehouse(SUBJECTS);
      const options = (where: string): PretrainOptions => ({
        warehouse: where,
        expert,
        expertConfig,
        config: { steps: 40, checkpointEvery: 5, batchSize, heldOutFraction: 0.25 },
        seed: 7,
        backend: native!,
      });
      const uninterrupted = await pretrainExpert(options(warehouse));

      const child = pretrainChild(options(copy), 'ignore');
      const progress = join(copy, 'pretrain', expert, uninterrupted.pretrainId, 'progress');
      const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      let killedAt = -1;
      while (killedAt < 0) {
        const files = existsSync(progress) ? await readdir(progress) : [];
        const step = Math.max(
          -1,
          ...files.map((name) => Number(/^step-(\d+)\.safetensors$/.exec(name)?.[1] ?? -1)),
        );
        if (step >= 10) {
          child.kill('SIGKILL');
          killedAt = step;
        } else if (child.exitCode !== null) {
          throw new Error(`the child exited (${child.exitCode}) before its first checkpoints`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await exited).toBe('SIGKILL');
      expect(existsSync(join(progress, '..', 'manifest.json'))).toBe(false);

      const resumed = await pretrainExpert(options(copy));
      expect(resumed.resumedFrom).toBeGreaterThanOrEqual(10);
      expect(resumed.resumedFrom).toBeLessThan(40);
      expect(resumed.pretrainId).toBe(uninterrupted.pretrainId);
      expect(await readFile(resumed.checkpoint)).toEqual(await readFile(uninterrupted.checkpoint));
      const curve = (path: string) => readFile(path, 'utf8').then((text) => JSON.parse(text).lossCurve);
      expect(await curve(resumed.manifest)).toEqual(await curve(uninterrupted.manifest));
    },
  );

  it('two identical pretrainings at once (a retry overlapping its first attempt) both end with the one result, written once', async () => {
    const options: PretrainOptions = {
      warehouse,
      expert: 'dlinear',
      expertConfig: DLINEAR,
      config: { steps: 400, checkpointEvery: 5, batchSize: 8, heldOutFraction: 0.25 },
      seed: 11,
      backend: native ?? 'wasm',
    };
    const run = () => {
      const child = pretrainChild(options, 'pipe');
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
      });
      return new Promise<PretrainSummary>((resolve, reject) =>
        child.once('exit', (code) =>
          code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`exit ${code}: ${stderr}`)),
        ),
      );
    };
    const [first, second] = await Promise.all([run(), run()]);
    expect(second.pretrainId).toBe(first.pretrainId);
    expect(second.checkpointSha256).toBe(first.checkpointSha256);
    // The one that finished second stopped and took the first one's result.
    expect([first.reused, second.reused].sort()).toEqual([false, true]);
    const dir = join(warehouse, 'pretrain', 'dlinear', first.pretrainId);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.safetensors', 'manifest.json']);
    const again = await pretrainExpert(options);
    expect(again).toMatchObject({ reused: true, checkpointSha256: first.checkpointSha256 });
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.checkpoint.sha256).toBe(first.checkpointSha256);
  });

  it('run as segments that pause between checkpoints, it ends with the same bytes and loss curve as one run', async () => {
    const copy = await syntheticWarehouse(SUBJECTS);
    const options = (where: string): PretrainOptions => ({
      warehouse: where,
      expert: 'dlinear',
      expertConfig: DLINEAR,
      config: { steps: 30, checkpointEvery: 10, batchSize: 4, heldOutFraction: 0.25 },
      seed: 3,
      backend: native ?? 'wasm',
    });
    const whole = await pretrainExpert(options(warehouse));
    const first = await pretrainSegment({ ...options(copy), untilStep: 7 });
    expect(first).toMatchObject({ finished: false, step: 7, resumedFrom: 0 });
    const second = await pretrainSegment({ ...options(copy), untilStep: 18 });
    expect(second).toMatchObject({ finished: false, step: 18, resumedFrom: 7 });
    const last = await pretrainSegment({ ...options(copy), untilStep: 40 });
    if (!last.finished) throw new Error('the last segment should finish');
    expect(last.summary.resumedFrom).toBe(18);
    expect(await readFile(last.summary.checkpoint)).toEqual(await readFile(whole.checkpoint));
    const curve = (path: string) => readFile(path, 'utf8').then((text) => JSON.parse(text).lossCurve);
    expect(await curve(last.summary.manifest)).toEqual(await curve(whole.manifest));
  });

  it('on wasm, refuses a step whose gradient needs a kernel wasm lacks (MOMENT, ECG-FM), naming it (no silent cpu fallback)', async () => {
    const refusal = pretrainExpert({
      warehouse,
      expert: 'moment',
      expertConfig: MOMENT,
      config: { steps: 2, batchSize: 2 },
      backend: 'wasm',
    });
    await expect(refusal).rejects.toThrow(EnvironmentError);
    await expect(refusal).rejects.toThrow(/UnsortedSegmentSum kernel, which the wasm backend lacks/);
    await expect(
      pretrainExpert({
        warehouse,
        expert: 'ecgfm',
        expertConfig: ECGFM,
        config: { steps: 2, batchSize: 2 },
        backend: 'wasm',
      }),
    ).rejects.toThrow(/Conv2DBackpropFilter kernel, which the wasm backend lacks/);
  });
});
