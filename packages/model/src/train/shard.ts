import * as tf from '@tensorflow/tfjs-core';
import type { TaskKey } from '../evaluation-types.ts';
import { gatherRows, type RowMatrix, type TrainingSet } from './dataset.ts';
import { gateLayout, type ModelShape, maxOutputs } from './model.ts';
import { createRng, deriveSeed } from './prng.ts';
import { TASK_SPECS } from './tasks.ts';

/**
 * Training is split by task: the loss is a sum over tasks and every trainable parameter belongs to one
 * task (the frozen bases they share never change), so a group of tasks (a shard) trains on its own,
 * given the shared data order. A shard's trainable values live in one flat array; each segment of it
 * maps, element by element, onto a slice of one full-layout tensor (see `Weights` in model.ts).
 */
export interface Segment {
  /** Full-layout tensor the segment's values come from and go back to. */
  tensor: string;
  /** Shape inside the shard (heads expert-major: q = expert e * Ts + shard task j). */
  shape: number[];
  offset: number;
  /** Position in the full tensor of each of the segment's values. */
  positions: Int32Array;
}

/** Full-layout values by tensor name (what `initialWeights` draws, read back). */
export type FullValues = Record<string, Float32Array>;

/**
 * Splits the tasks into at most `count` shards of about equal cost (a task's cost grows with its
 * output width); the rule depends on the task list only, so where shards run never changes results.
 */
export function partitionTasks(tasks: readonly TaskKey[], count: number): number[][] {
  const shards = Array.from({ length: Math.min(count, tasks.length) }, () => ({
    cost: 0,
    tasks: [] as number[],
  }));
  const cost = (t: number) => 1 + TASK_SPECS[tasks[t] as TaskKey].outputs / 8;
  const byCost = tasks.map((_, t) => t).sort((a, b) => cost(b) - cost(a) || a - b);
  for (const t of byCost) {
    const lightest = shards.reduce((best, shard) => (shard.cost < best.cost ? shard : best));
    lightest.cost += cost(t);
    lightest.tasks.push(t);
  }
  return shards.map((shard) => shard.tasks.sort((a, b) => a - b));
}

/** Where a shard's values sit in the full layout: trainable segments (one flat array) and frozen ones. */
export class ShardLayout {
  readonly trainable: Segment[] = [];
  readonly frozen: Segment[] = [];
  readonly size: number;
  readonly tasks: TaskKey[];

  constructor(
    readonly shape: ModelShape,
    readonly taskIndices: readonly number[],
  ) {
    const T = shape.tasks.length;
    const Ts = taskIndices.length;
    const E = shape.experts.length;
    const H = shape.hiddenSize;
    const r = shape.lora.rank;
    const O = maxOutputs(shape.tasks);
    const { width: W, hidden } = gateLayout(shape);
    this.tasks = taskIndices.map((t) => shape.tasks[t] as TaskKey);
    let offset = 0;
    const add = (frozen: boolean, tensor: string, dims: number[], position: (k: number[]) => number) => {
      const size = dims.reduce((a, b) => a * b, 1);
      const positions = new Int32Array(size);
      const index = new Array<number>(dims.length).fill(0);
      for (let k = 0; k < size; k++) {
        positions[k] = position(index);
        for (let axis = dims.length - 1; axis >= 0; axis--) {
          index[axis] = (index[axis] as number) + 1;
          if ((index[axis] as number) < (dims[axis] as number)) break;
          index[axis] = 0;
        }
      }
      if (frozen) {
        this.frozen.push({ tensor, shape: dims, offset: 0, positions });
        return;
      }
      this.trainable.push({ tensor, shape: dims, offset, positions });
      offset += size;
    };
    const task = (j: number) => taskIndices[j] as number;
    /** [d, r*T] adapter inputs: the shard's tasks' column blocks. */
    const columns = (frozen: boolean, tensor: string, d: number) =>
      add(frozen, tensor, [d, r * Ts], ([i, c]) => {
        const j = Math.floor((c as number) / r);
        return (i as number) * r * T + task(j) * r + ((c as number) % r);
      });
    /** [T, a, b] per-task tensors: the shard's tasks in order. */
    const perTask = (frozen: boolean, tensor: string, a: number, b: number) =>
      add(
        frozen,
        tensor,
        [Ts, a, b],
        ([j, i, c]) => (task(j as number) * a + (i as number)) * b + (c as number),
      );
    /** [E*T, a, b] per-head tensors as [E*Ts, a, b]: the shard's tasks' heads of every expert. */
    const perHead = (frozen: boolean, tensor: string, a: number, b: number) =>
      add(frozen, tensor, [E * Ts, a, b], ([q, i, c]) => {
        const head = Math.floor((q as number) / Ts) * T + task((q as number) % Ts);
        return (head * a + (i as number)) * b + (c as number);
      });
    for (const { name, dim } of shape.experts) columns(false, `head.${name}.fc1.lora_a`, dim);
    // Consecutive [Ts, r, H] segments, one per expert: together the [E*Ts, r, H] stack of the heads.
    for (const [e, { name }] of shape.experts.entries()) {
      add(
        false,
        `head.${name}.fc1.lora_b#${e}`,
        [Ts, r, H],
        ([j, i, c]) => (task(j as number) * r + (i as number)) * H + (c as number),
      );
    }
    columns(false, 'gate.fc1.lora_a', shape.gateDim);
    perTask(false, 'gate.fc1.lora_b', r, W);
    perHead(false, 'head.fc2.lora_a', H, r);
    perHead(false, 'head.fc2.lora_b', r, H);
    for (const layer of hidden) {
      perTask(false, `${layer}.lora_a`, W, r);
      perTask(false, `${layer}.lora_b`, r, W);
    }
    perTask(false, 'gate.fc2.lora_a', W, r);
    perTask(false, 'gate.fc2.lora_b', r, E);
    // The last head layer per task, without the padding to the widest task's output.
    this.tasks.forEach((key, j) => {
      const Oj = TASK_SPECS[key].outputs;
      const frozen = !shape.trainLastHeadLayer;
      const head = (e: number) => e * T + task(j);
      add(
        frozen,
        `head.fc3.weight@${j}`,
        [E, H, Oj],
        ([e, i, c]) => (head(e as number) * H + (i as number)) * O + (c as number),
      );
      add(frozen, `head.fc3.bias@${j}`, [E, 1, Oj], ([e, , c]) => head(e as number) * O + (c as number));
    });
    perHead(true, 'head.fc2.bias', 1, H);
    for (const layer of hidden) {
      perTask(true, `${layer}.weight`, W, W);
      perTask(true, `${layer}.bias`, 1, W);
    }
    perTask(true, 'gate.fc2.weight', W, E);
    perTask(true, 'gate.fc2.bias', 1, E);
    this.size = offset;
  }

  /** The shard's trainable values, gathered from full-layout values. */
  read(full: FullValues): Float32Array {
    const values = new Float32Array(this.size);
    for (const segment of this.trainable) gather(full, segment, values, segment.offset);
    return values;
  }

  /** Writes the shard's trainable values into full-layout values (the other tasks' slices untouched). */
  write(full: FullValues, values: Float32Array): void {
    for (const segment of this.trainable) {
      const target = full[fullName(segment.tensor)] as Float32Array;
      const { positions, offset } = segment;
      for (let k = 0; k < positions.length; k++)
        target[positions[k] as number] = values[offset + k] as number;
    }
  }
}

/** Segment names carry a suffix (`#expert`, `@task`) where one full tensor feeds several segments. */
export function fullName(segment: string): string {
  return segment.replace(/[#@]\d+$/, '');
}

function gather(full: FullValues, segment: Segment, out: Float32Array, offset: number): void {
  const source = full[fullName(segment.tensor)];
  if (!source) throw new Error(`model weights lack ${fullName(segment.tensor)}`);
  const { positions } = segment;
  for (let k = 0; k < positions.length; k++) out[offset + k] = source[positions[k] as number] as number;
}

/**
 * A batch as the shards read it: each expert's and the gate's LoRA input (after the step's dropout;
 * row-major and transposed, the transpose feeding the adapter gradient as a plain matmul) and the
 * frozen first layers' outputs for its rows. Built once per step and thread, shared by its shards.
 */
export interface BatchInputs {
  rows: readonly number[];
  experts: tf.Tensor2D[];
  expertsT?: tf.Tensor2D[];
  /** [E, B, H] frozen first-layer outputs of the experts. */
  projected: tf.Tensor3D;
  gate: tf.Tensor2D;
  gateT?: tf.Tensor2D;
  /** [B, W] frozen first-layer output of the gate. */
  gateProjected: tf.Tensor2D;
}

/** Prefixes of the layers whose frozen outputs are precomputed: every expert's first layer, then the gate's. */
export function projectedPrefixes(shape: ModelShape): string[] {
  return [...shape.experts.map(({ name }) => `head.${name}.fc1`), 'gate.fc1'];
}

/** A batch's values before upload: what `BatchInputs` holds, as plain arrays (per projected prefix). */
export interface BatchValues {
  rows: readonly number[];
  inputs: Float32Array[];
  /** Present when the batch carries dropout (training). */
  transposes?: Float32Array[];
  /** [E, B, H] and [B, W]. */
  projected: Float32Array;
  gateProjected: Float32Array;
}

/**
 * Gathers a batch; with a dropout seed, draws the dropout mask of each first-layer adapter input
 * (one per input, shared by the tasks, kept values scaled by 1/(1-p)) and keeps the transposes.
 */
export function gatherBatchValues(
  set: Pick<TrainingSet, 'expertFeatures' | 'gateInput'>,
  shape: ModelShape,
  projections: readonly RowMatrix[],
  rows: readonly number[],
  dropoutSeed?: number,
): BatchValues {
  const B = rows.length;
  const rate = dropoutSeed === undefined ? 0 : shape.lora.dropout;
  const sources = [...shape.experts.map(({ name }) => set.expertFeatures[name] as RowMatrix), set.gateInput];
  const prefixes = projectedPrefixes(shape);
  const inputs: Float32Array[] = [];
  const transposes: Float32Array[] = [];
  sources.forEach((features, p) => {
    const d = features.dim;
    const input = gatherRows(features, rows);
    if (rate > 0) {
      const keep = 1 / (1 - rate);
      for (let k = 0; k < input.length; k++) input[k] = (input[k] as number) * keep;
      // Each value is dropped with probability p, independently: the gaps between dropped values are
      // geometric, so one draw per dropped value (not one per value) places them all.
      const rng = createRng(deriveSeed(dropoutSeed ?? 0, prefixes[p] as string));
      const logKeep = Math.log(1 - rate);
      const gap = () => Math.floor(Math.log(1 - rng()) / logKeep);
      for (let k = gap(); k < B * d; k += 1 + gap()) input[k] = 0;
    }
    inputs.push(input);
    if (dropoutSeed !== undefined) {
      const transposed = new Float32Array(d * B);
      for (let j = 0; j < d; j++)
        for (let b = 0; b < B; b++) transposed[j * B + b] = input[b * d + j] as number;
      transposes.push(transposed);
    }
  });
  const gatherProjected = (matrices: readonly RowMatrix[]) => {
    const width = (matrices[0] as RowMatrix).dim;
    const out = new Float32Array(matrices.length * B * width);
    matrices.forEach((matrix, m) => {
      out.set(gatherRows(matrix, rows), m * B * width);
    });
    return out;
  };
  const E = shape.experts.length;
  return {
    rows,
    inputs,
    ...(dropoutSeed === undefined ? {} : { transposes }),
    projected: gatherProjected(projections.slice(0, E)),
    gateProjected: gatherProjected([projections[E] as RowMatrix]),
  };
}

/** Uploads a batch's values. */
export function batchTensors(shape: ModelShape, values: BatchValues): BatchInputs {
  const B = values.rows.length;
  const E = shape.experts.length;
  const dims = [...shape.experts.map(({ dim }) => dim), shape.gateDim];
  const inputs = values.inputs.map((input, p) => tf.tensor2d(input, [B, dims[p] as number]));
  const transposes = values.transposes?.map((input, p) => tf.tensor2d(input, [dims[p] as number, B]));
  return {
    rows: values.rows,
    experts: inputs.slice(0, E),
    gate: inputs[E] as tf.Tensor2D,
    ...(transposes ? { expertsT: transposes.slice(0, E), gateT: transposes[E] as tf.Tensor2D } : {}),
    projected: tf.tensor3d(values.projected, [E, B, shape.hiddenSize]),
    gateProjected: tf.tensor2d(values.gateProjected, [B, gateLayout(shape).width]),
  };
}

/** `gatherBatchValues` then `batchTensors`. */
export function batchInputs(
  set: Pick<TrainingSet, 'expertFeatures' | 'gateInput'>,
  shape: ModelShape,
  projections: readonly RowMatrix[],
  rows: readonly number[],
  dropoutSeed?: number,
): BatchInputs {
  return batchTensors(shape, gatherBatchValues(set, shape, projections, rows, dropoutSeed));
}

export function disposeBatchInputs(inputs: BatchInputs): void {
  for (const tensor of [...inputs.experts, ...(inputs.expertsT ?? []), inputs.projected, inputs.gate])
    tensor.dispose();
  inputs.gateT?.dispose();
  inputs.gateProjected.dispose();
}

/** Per shard task: summed loss over labelled rows and the number of labelled rows. */
export interface LossSums {
  sums: Float64Array;
  counts: Float64Array;
}
