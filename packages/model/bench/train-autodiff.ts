/**
 * Training step cost: the hand-written backward pass (ShardTrainer: frozen first layers precomputed,
 * no tape, JS AdamW) against plain tfjs autodiff (`optimizer.minimize` over the inference `forward`
 * and the reference loss), on each installed backend, same batches, in one process. The autodiff path
 * is the simpler one; it would replace the hand-written one only at >= 1.5x its speed.
 *
 *   npx tsx bench/train-autodiff.ts [--steps 20] [--studies 1024]
 *
 * Production widths (MOMENT 512, ECG-FM 768, TEMPO 768, DLinear 500, TimesNet 8000, gate 5000),
 * hidden 256, batch 16, all five tasks.
 */
import '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import { resolveTrainConfig } from '../src/train/config.ts';
import { gatherBatch } from '../src/train/dataset.ts';
import { modelShapeFor, targetScaleFor } from '../src/train/fit.ts';
import { forward, gateLayout, initialWeights, trainableNames } from '../src/train/model.ts';
import { batchInputs, disposeBatchInputs, type FullValues, ShardLayout } from '../src/train/shard.ts';
import { type FitContext, project } from '../src/train/shard-group.ts';
import { ShardTrainer } from '../src/train/shard-trainer.ts';
import { batchInputs as referenceInputs, targetsOf, taskLossSums } from '../test/support/reference-loss.ts';
import { syntheticTrainingSet } from '../test/synthetic-training-set.ts';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const STEPS = Number(option('steps', '20'));
const WARM_UP = 3;
const set = syntheticTrainingSet({
  studies: Number(option('studies', '1024')),
  seed: 3,
  experts: { moment: 512, 'ecg-fm': 768, tempo: 768, dlinear: 500, timesnet: 8000 },
  gateDim: 5000,
});
const config = resolveTrainConfig({});
const shape = modelShapeFor(set, config);
const rows = set.studyIds.map((_, i) => i);
const batches = Array.from({ length: WARM_UP + STEPS }, (_, b) =>
  rows.slice((b * config.batchSize) % (rows.length - config.batchSize)).slice(0, config.batchSize),
);

function timed(run: (step: number) => void): { msPerStep: number; cpuMsPerStep: number } {
  for (let step = 0; step < WARM_UP; step++) run(step);
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let step = WARM_UP; step < WARM_UP + STEPS; step++) run(step);
  const used = process.cpuUsage(cpu);
  return {
    msPerStep: (performance.now() - start) / STEPS,
    cpuMsPerStep: (used.user + used.system) / 1000 / STEPS,
  };
}

function handWritten(): ReturnType<typeof timed> {
  const initial: FullValues = {};
  for (const [name, tensor] of Object.entries(initialWeights(shape, 42))) {
    initial[name] = Float32Array.from(tensor.dataSync() as Float32Array);
    tensor.dispose();
  }
  const context: FitContext = {
    set,
    shape,
    config,
    targetScale: targetScaleFor(set, config, rows),
    initial,
    projections: [...shape.experts.map(() => config.hiddenSize), gateLayout(shape).width].map((dim) => ({
      dim,
      matrix: new Float32Array(rows.length * dim),
    })),
  };
  project(
    context,
    context.projections.map((_, p) => p),
  );
  const layout = new ShardLayout(
    shape,
    shape.tasks.map((_, t) => t),
  );
  const trainer = new ShardTrainer(layout, initial, config, context.targetScale, set.labels);
  const result = timed((step) => {
    const inputs = batchInputs(set, shape, context.projections, batches[step]!, step);
    trainer.step(inputs, step);
    disposeBatchInputs(inputs);
  });
  trainer.dispose();
  return result;
}

function autodiff(): ReturnType<typeof timed> {
  const trainable = new Set(trainableNames(shape));
  const weights = Object.fromEntries(
    Object.entries(initialWeights(shape, 42)).map(([name, tensor]) => [
      name,
      tf.variable(tensor, trainable.has(name)),
    ]),
  );
  const scale = targetScaleFor(set, config, rows);
  const optimizer = tf.train.adam(config.learningRate);
  const result = timed((step) =>
    tf.tidy(() => {
      const batch = gatherBatch(set, batches[step]!, shape.tasks);
      const targets = targetsOf(shape, scale, batch);
      const loss = optimizer.minimize(() => {
        const sums = taskLossSums(shape, forward(shape, weights, referenceInputs(batch, shape)), targets);
        let total: tf.Scalar = tf.scalar(0);
        shape.tasks.forEach((task, t) => {
          const count = targets.counts[t] as number;
          if (count > 0)
            total = tf.add(total, tf.mul(sums[t] as tf.Scalar, (config.lossWeights[task] ?? 1) / count));
        });
        return total;
      }, true);
      loss?.dataSync();
    }),
  );
  optimizer.dispose();
  for (const variable of Object.values(weights)) variable.dispose();
  return result;
}

console.log(
  `${STEPS} steps of batch ${config.batchSize}, all 5 tasks, hidden ${config.hiddenSize}; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const backend of installedBackends().filter((b) => b !== 'cpu')) {
  const info = await selectBackend(backend);
  const ours = handWritten();
  const simple = autodiff();
  console.log(
    `${info.tfBackend.padEnd(10)} hand-written ${ours.msPerStep.toFixed(1)} ms/step (${ours.cpuMsPerStep.toFixed(1)} ms CPU)` +
      `  autodiff ${simple.msPerStep.toFixed(1)} ms/step (${simple.cpuMsPerStep.toFixed(1)} ms CPU)` +
      `  autodiff speed = ${(ours.cpuMsPerStep / simple.cpuMsPerStep).toFixed(2)}x hand-written (CPU)`,
  );
}
