import { ConfigError, sha256File } from '@enecg/common';
import { packBatch, tf } from '../backend/index.ts';
import { resolveDlinearConfig } from '../experts/dlinear/index.ts';
import {
  type DLinearConfig,
  dlinearEncode,
  dlinearTensorSpecs,
  groupLinears,
  movingAverageMatrix,
} from '../experts/dlinear/model.ts';
import { resolveEcgfmConfig, segmentsChannelsLast } from '../experts/ecgfm/index.ts';
import {
  ecgfmEncode,
  ecgfmFrameCount,
  ecgfmPrefix,
  ecgfmWeightSpecs,
  isUnusedEcgfmTensor,
  prepareEcgfm,
} from '../experts/ecgfm/model.ts';
import { dense, denseFromLinear } from '../experts/layers/ops.ts';
import { disposeAll } from '../experts/layers/tensors.ts';
import { randomWeights, readWeightMap, resolveWeights, type WeightSpec } from '../experts/layers/weights.ts';
import { leftPadded, resolveMomentConfig } from '../experts/moment/index.ts';
import {
  isUnusedMomentTensor,
  momentEncode,
  momentPatchCount,
  momentWeightSpecs,
  prepareMoment,
} from '../experts/moment/model.ts';
import { resolveTimesnetConfig } from '../experts/timesnet/index.ts';
import {
  TIMESNET_POSITIONS,
  timesBlock,
  timesnetParams,
  timesnetTensorSpecs,
  timesnetTokens,
} from '../experts/timesnet/model.ts';
import type { PreprocessConfig } from '../preprocess/index.ts';
import { openWeights, seededWeights } from '../safetensors/index.ts';

/**
 * One expert's self-supervised objective: its parameters as trainable variables under the names its
 * checkpoint uses (so the trained tensors are written in exactly the layout the expert loads), and a
 * loss over preprocessed records with some of their units hidden.
 */
export interface PretrainTask {
  readonly expert: string;
  readonly objective: ObjectiveDescription;
  readonly preprocess: PreprocessConfig;
  /** The expert's resolved settings that shape the model: part of the pretraining's identity. */
  readonly settings: Record<string, unknown>;
  /** Units per record that the mask hides (MOMENT's patches, DLinear's segments). */
  readonly maskUnits: number;
  /** Trained tensors by checkpoint name, in checkpoint (PyTorch) layout. */
  readonly parameters: ReadonlyMap<string, tf.Variable>;
  /** Tensors written into the checkpoint unchanged (buffers such as a positional table). */
  readonly fixed: ReadonlyMap<string, tf.Tensor>;
  /** Trained parameters left out of the final checkpoint: a reconstruction head the expert would refuse. */
  readonly notInCheckpoint: ReadonlySet<string>;
  /** `weightsId` of the starting point: the checkpoint's sha256 or `random-init:<seed>`. */
  readonly initialWeights: string;
  /**
   * Mean squared reconstruction error over the hidden units of `inputs` (preprocessed records, lead-major),
   * in the model's normalised space. `hidden` holds maskUnits 0/1 values per record.
   */
  loss(inputs: readonly Float32Array[], hidden: Float32Array): tf.Scalar;
  dispose(): void;
}

export interface ObjectiveDescription {
  name: 'masked-reconstruction';
  /** What a hidden unit is, in words, for the manifest. */
  unit: string;
  units: number;
}

export interface PretrainTaskOptions {
  config?: Record<string, unknown>;
  weightsPath?: string;
  seed: number;
}

const BUILDERS: Record<string, (options: PretrainTaskOptions) => Promise<PretrainTask>> = {
  moment: momentTask,
  dlinear: dlinearTask,
  timesnet: timesnetTask,
  ecgfm: ecgfmTask,
};

/** Experts that `pretrainExpert` can train. */
export function pretrainableExperts(): string[] {
  return Object.keys(BUILDERS);
}

/** Refusals of settings the expert accepts but its objective cannot train, naming `<expert>.<key>`. */
const SETTINGS_CHECKS: Partial<Record<string, (config: Record<string, unknown> | undefined) => void>> = {
  ecgfm: (config) => resolveEcgfmPretraining(config),
};

/**
 * Refuses an expert without an objective, or (given the expert's settings, already valid for the expert)
 * settings its objective cannot train, before any work starts.
 */
export function requirePretrainable(expert: string, expertConfig?: Record<string, unknown>): void {
  if (!(expert in BUILDERS)) {
    throw new ConfigError(
      `no self-supervised objective for ${JSON.stringify(expert)} yet (pretrainable: ${pretrainableExperts().join(', ')})`,
      'expert',
    );
  }
  SETTINGS_CHECKS[expert]?.(expertConfig);
}

export async function createPretrainTask(
  expert: string,
  options: PretrainTaskOptions,
): Promise<PretrainTask> {
  requirePretrainable(expert);
  return BUILDERS[expert]!(options);
}

/** Segments per record that DLinear's masked reconstruction hides or shows (0.5 s at 500 samples per 10 s). */
const DLINEAR_SEGMENTS = 20;

/**
 * DLinear: the decomposed-linear encoder (seq_len -> seq_len) reconstructs the samples of hidden
 * segments, which are zeroed (the record's mean after z-scoring) in its input: it learns to
 * interpolate an ECG from its surroundings, with the tensors the expert embeds with.
 */
async function dlinearTask(options: PretrainTaskOptions): Promise<PretrainTask> {
  const { config, preprocess, movingAvg } = resolveDlinearConfig(options.config);
  const model: DLinearConfig = {
    seqLen: preprocess.length,
    channels: preprocess.leads.length,
    movingAvg,
    individual: config.individual,
  };
  const t = model.seqLen;
  const c = model.channels;
  const units = Math.min(DLINEAR_SEGMENTS, t);
  const weights = await openWeights(options.weightsPath, options.seed);
  const specs = dlinearTensorSpecs(model);
  const parameters = new Map(
    specs.map(({ name, shape, init }) => [
      name,
      tf.variable(tf.tensor(weights.take(name, shape, init), [...shape])),
    ]),
  );
  weights.finish((name) => name.startsWith('projection.'));
  const averaging = tf.tensor2d(movingAverageMatrix(t, movingAvg), [t, t]);
  const ordered = specs.map(({ name }) => parameters.get(name)! as tf.Tensor as tf.Tensor2D | tf.Tensor1D);
  return {
    expert: 'dlinear',
    objective: { name: 'masked-reconstruction', unit: `segment of ${t / units} samples`, units },
    preprocess,
    settings: { model },
    maskUnits: units,
    parameters,
    fixed: new Map(),
    notInCheckpoint: new Set(),
    initialWeights: weights.weightsId,
    loss(inputs, hidden) {
      const b = inputs.length;
      const x = tf.tensor2d(packBatch(inputs, c * t), [b * c, t]);
      const mask = tf.tensor2d(segmentMask(hidden, b, c, t, units), [b * c, t]);
      const shown = tf.mul(x, tf.sub(1, mask)) as tf.Tensor2D;
      const reconstructed = tf.reshape(dlinearEncode(shown, averaging, groupLinears(ordered), model), [
        b * c,
        t,
      ]);
      return maskedMeanSquare(reconstructed, x, mask, 1);
    },
    dispose() {
      disposeAll([...parameters.values()], averaging);
    },
  };
}

/** Per-record hidden segments -> a sample mask [records, leads, length], the same for every lead. */
function segmentMask(hidden: Float32Array, records: number, leads: number, length: number, units: number) {
  const mask = new Float32Array(records * leads * length);
  for (let record = 0; record < records; record++) {
    for (let sample = 0; sample < length; sample++) {
      const value = hidden[record * units + Math.floor((sample * units) / length)]!;
      for (let lead = 0; lead < leads; lead++) mask[(record * leads + lead) * length + sample] = value;
    }
  }
  return mask;
}

/**
 * TimesNet as TSLib trains it for imputation: hidden samples zeroed in the input, the encoder (token
 * convolution, TimesBlocks with the shared layer norm) and a linear projection d_model -> C
 * reconstructing them; hidden spans are segments as for DLinear. Periods and their weights come from
 * the values (constants to autodiff). The projection is TSLib's imputation head, not the classification
 * head the expert checks by shape, so it stays out of the written checkpoint.
 */
async function timesnetTask(options: PretrainTaskOptions): Promise<PretrainTask> {
  const { preprocess, modelConfig: model } = resolveTimesnetConfig(options.config);
  const { seqLen: t, channels: c, dModel: d } = model;
  const units = Math.min(DLINEAR_SEGMENTS, t);
  const weights = await openWeights(options.weightsPath, options.seed);
  const parameters = new Map<string, tf.Variable>();
  const fixed = new Map<string, tf.Tensor>();
  for (const { name, shape, init } of timesnetTensorSpecs(model)) {
    const tensor = tf.tensor(weights.take(name, shape, init), [...shape]);
    if (name === TIMESNET_POSITIONS) {
      fixed.set(name, tensor);
      continue;
    }
    parameters.set(name, tf.variable(tensor));
    tensor.dispose();
  }
  weights.finish(
    (name) => name.startsWith('enc_embedding.temporal_embedding.') || name.startsWith('projection.'),
  );
  const head = seededWeights(options.seed);
  const bound = { kind: 'uniform', bound: 1 / Math.sqrt(d) } as const;
  parameters.set(
    TIMESNET_HEAD[0],
    tf.variable(tf.tensor2d(head.take(TIMESNET_HEAD[0], [c, d], bound), [c, d])),
  );
  parameters.set(TIMESNET_HEAD[1], tf.variable(tf.tensor1d(head.take(TIMESNET_HEAD[1], [c], bound))));
  const get = (name: string) => parameters.get(name)! as tf.Tensor;
  return {
    expert: 'timesnet',
    objective: { name: 'masked-reconstruction', unit: `segment of ${t / units} samples`, units },
    preprocess,
    settings: { model },
    maskUnits: units,
    parameters,
    fixed,
    notInCheckpoint: new Set(TIMESNET_HEAD),
    initialWeights: weights.weightsId,
    loss(inputs, hidden) {
      const b = inputs.length;
      const x = tf.transpose(tf.tensor3d(packBatch(inputs, c * t), [b, c, t]), [0, 2, 1]) as tf.Tensor3D;
      const mask = tf.transpose(tf.tensor3d(segmentMask(hidden, b, c, t, units), [b, c, t]), [0, 2, 1]);
      const params = timesnetParams((name) => fixed.get(name) ?? get(name), model);
      let encoded = timesnetTokens(params, tf.mul(x, tf.sub(1, mask)) as tf.Tensor3D);
      for (const block of params.blocks) encoded = timesBlock(encoded, block, params.norm, model);
      const reconstructed = dense(encoded, denseFromLinear(get(TIMESNET_HEAD[0]), get(TIMESNET_HEAD[1])));
      return maskedMeanSquare(reconstructed, x, mask, 1);
    },
    dispose() {
      disposeAll([...parameters.values()], [...fixed.values()]);
    },
  };
}

const TIMESNET_HEAD = ['projection.weight', 'projection.bias'] as const;

const MOMENT_HEAD = ['head.linear.weight', 'head.linear.bias'] as const;

/**
 * MOMENT's pretraining: hidden patches get the mask embedding instead of their value embedding, the
 * encoder still attends to them, and the pretraining head (`head.linear`, d_model -> patch_len)
 * reconstructs their RevIN-normalised samples. The head is written with the encoder (the expert ignores
 * `head.*`, as in the published checkpoints); a starting checkpoint without one gets a seeded head.
 */
async function momentTask(options: PretrainTaskOptions): Promise<PretrainTask> {
  const { model, preprocess } = resolveMomentConfig(options.config);
  const specs = momentWeightSpecs(model);
  const source = options.weightsPath ?? `random-init:${options.seed}`;
  const loaded =
    options.weightsPath === undefined
      ? randomWeights(specs, options.seed)
      : await readWeightMap(options.weightsPath);
  const headSpecs = [
    { name: MOMENT_HEAD[0], shape: [model.patchLen, model.dModel], init: 'normal' as const },
    { name: MOMENT_HEAD[1], shape: [model.patchLen], init: 'zeros' as const },
  ];
  let initialWeights = source;
  const made: tf.Tensor[] = [...loaded.values()];
  try {
    const resolved = resolveWeights(loaded, specs, source, isUnusedMomentTensor);
    const head = MOMENT_HEAD.every((name) => loaded.has(name))
      ? resolveWeights(loaded, headSpecs, source, () => true)
      : randomWeights(headSpecs, options.seed);
    made.push(...head.values());
    const fixedName = 'patch_embedding.position_embedding.pe';
    const parameters = new Map<string, tf.Variable>();
    for (const [name, tensor] of [...resolved, ...head]) {
      if (name !== fixedName) parameters.set(name, tf.variable(tensor));
    }
    const fixed = new Map([[fixedName, tf.clone(resolved.get(fixedName)!)]]);
    if (options.weightsPath !== undefined) initialWeights = await sha256File(options.weightsPath);
    const leads = preprocess.leads.length;
    const patches = momentPatchCount(model);
    return {
      expert: 'moment',
      objective: {
        name: 'masked-reconstruction',
        unit: `patch of ${model.patchLen} samples`,
        units: patches,
      },
      preprocess,
      settings: { model },
      maskUnits: patches,
      parameters,
      fixed,
      notInCheckpoint: new Set(),
      initialWeights,
      loss(inputs, hidden) {
        const encoderWeights = new Map<string, tf.Tensor>(fixed);
        for (const [name, variable] of parameters) {
          if (!name.startsWith('head.')) encoderWeights.set(name, variable);
        }
        const params = prepareMoment(encoderWeights, model, source);
        const [x, inputMask] = leftPadded(inputs, leads, preprocess.length, model);
        const b = inputs.length;
        const hiddenPatches = tf.tensor2d(hidden, [b, patches]);
        const { patched, encoded, patchMask } = momentEncode(params, x, inputMask, hiddenPatches);
        const head = denseFromLinear(parameters.get(MOMENT_HEAD[0])!, parameters.get(MOMENT_HEAD[1])!);
        const reconstructed = dense(encoded, head);
        const weight = tf.reshape(tf.mul(hiddenPatches, patchMask), [b, 1, patches, 1]);
        return maskedMeanSquare(reconstructed, patched, weight, leads * model.patchLen);
      },
      dispose() {
        disposeAll([...parameters.values()], [...fixed.values()]);
      },
    };
  } finally {
    // Variables hold their own reference to the data, so the loaded tensors can go.
    disposeAll(made);
  }
}

/**
 * wav2vec 2.0's `mask_length`: conv frames hidden together, so a hidden stretch outlasts what a
 * neighbour's receptive field reaches.
 */
const ECGFM_MASK_SPAN = 10;

const ECGFM_HEAD = ['reconstruction_head.weight', 'reconstruction_head.bias'] as const;

/**
 * ECG-FM as wav2vec 2.0 masks it: spans of conv-feature frames (after the feature LayerNorm and
 * post_extract_proj) are replaced by `mask_emb`, the positional convolution and the transformer see the
 * rest, and a linear head d_model -> stride x leads reconstructs each hidden frame's own samples (the
 * `stride` samples it starts, every lead) in the lead-standardised input. wav2vec 2.0 instead tells the
 * frame's quantised conv features from distractors; regressing the conv features themselves would let the
 * extractor, trained by the same loss, collapse them to a constant that is trivial to predict (what the
 * contrastive distractors, or data2vec's EMA teacher, prevent). Raw samples are a fixed target, and with
 * ECG-FM's kernel = stride layout a frame reads exactly its own samples, so a hidden frame's samples reach
 * the encoder only through layer 0's per-channel GroupNorm statistics. `mask_emb` is trained and written
 * (the expert ignores it, as in the published checkpoints; a starting checkpoint's is used when present);
 * the head is not, as the expert would refuse it.
 */
async function ecgfmTask(options: PretrainTaskOptions): Promise<PretrainTask> {
  const { model, preprocess, segments } = resolveEcgfmPretraining(options.config);
  const frames = ecgfmFrameCount(model);
  const stride = model.convLayers.reduce((product, [, , layerStride]) => product * layerStride, 1);
  const spans = Math.ceil(frames / ECGFM_MASK_SPAN);
  const units = segments * spans;
  const { inChannels: c, dModel: d } = model;
  const source = options.weightsPath ?? `random-init:${options.seed}`;
  const loaded = options.weightsPath === undefined ? undefined : await readWeightMap(options.weightsPath);
  const prefix = loaded ? ecgfmPrefix(loaded) : '';
  const specs = ecgfmWeightSpecs(model, prefix);
  const maskName = `${prefix}mask_emb`;
  const made: tf.Tensor[] = [...(loaded?.values() ?? [])];
  const seeded = (wanted: WeightSpec[]) => {
    const weights = randomWeights(wanted, options.seed);
    made.push(...weights.values());
    return weights;
  };
  try {
    const maskSpecs: WeightSpec[] = [{ name: maskName, shape: [d], init: 'normal' }];
    const encoder = loaded ? resolveWeights(loaded, specs, source, isUnusedEcgfmTensor) : seeded(specs);
    const maskEmbedding = loaded?.has(maskName)
      ? resolveWeights(loaded, maskSpecs, source, () => true)
      : seeded(maskSpecs);
    const encoderNames = [...encoder.keys()];
    const parameters = new Map<string, tf.Variable>();
    for (const [name, tensor] of [...encoder, ...maskEmbedding]) parameters.set(name, tf.variable(tensor));
    const head = seededWeights(options.seed);
    const bound = { kind: 'uniform', bound: 1 / Math.sqrt(d) } as const;
    const width = stride * c;
    parameters.set(
      ECGFM_HEAD[0],
      tf.variable(tf.tensor2d(head.take(ECGFM_HEAD[0], [width, d], bound), [width, d])),
    );
    parameters.set(ECGFM_HEAD[1], tf.variable(tf.tensor1d(head.take(ECGFM_HEAD[1], [width], bound))));
    const initialWeights = options.weightsPath === undefined ? source : await sha256File(options.weightsPath);
    return {
      expert: 'ecgfm',
      objective: {
        name: 'masked-reconstruction',
        unit: `span of ${ECGFM_MASK_SPAN} conv frames (${ECGFM_MASK_SPAN * stride} samples)`,
        units,
      },
      preprocess,
      settings: { model },
      maskUnits: units,
      parameters,
      fixed: new Map(),
      notInCheckpoint: new Set(ECGFM_HEAD),
      initialWeights,
      loss(inputs, hidden) {
        const encoderWeights = new Map(
          encoderNames.map((name) => [name, parameters.get(name)! as tf.Tensor]),
        );
        const params = prepareEcgfm(encoderWeights, model, source);
        const sequences = inputs.length * segments;
        const x = segmentsChannelsLast(inputs, model, preprocess.length, segments);
        const hiddenFrames = tf.tensor2d(spanFrames(hidden, sequences, spans, frames), [sequences, frames]);
        const encoded = ecgfmEncode(params, x, {
          hidden: hiddenFrames,
          embedding: parameters.get(maskName)! as tf.Tensor as tf.Tensor1D,
        });
        const reconstructed = dense(
          encoded,
          denseFromLinear(parameters.get(ECGFM_HEAD[0])!, parameters.get(ECGFM_HEAD[1])!),
        );
        const target = tf.reshape(tf.slice(x, [0, 0, 0], [sequences, frames * stride, c]), [
          sequences,
          frames,
          width,
        ]);
        return maskedMeanSquare(
          reconstructed,
          target,
          tf.reshape(hiddenFrames, [sequences, frames, 1]),
          width,
        );
      },
      dispose() {
        disposeAll([...parameters.values()]);
      },
    };
  } finally {
    disposeAll(made);
  }
}

/** The expert's settings, refusing those masked reconstruction cannot train. */
function resolveEcgfmPretraining(config: Record<string, unknown> | undefined) {
  const resolved = resolveEcgfmConfig(config);
  const { model } = resolved;
  if (model.labels > 0) {
    throw new ConfigError(
      'pretraining trains the encoder, not the classifier head: leave labels at 0',
      'ecgfm.model.labels',
    );
  }
  if (model.convLayers.some(([, kernel, stride]) => kernel < stride)) {
    throw new ConfigError(
      'masked reconstruction needs every conv kernel at least its stride (a frame reconstructs its stride samples)',
      'ecgfm.model.convLayers',
    );
  }
  return resolved;
}

/** Hidden spans [sequences, spans] -> hidden frames [sequences, frames]; the last span may be short. */
function spanFrames(hidden: Float32Array, sequences: number, spans: number, frames: number): Float32Array {
  const mask = new Float32Array(sequences * frames);
  for (let sequence = 0; sequence < sequences; sequence++) {
    for (let frame = 0; frame < frames; frame++) {
      mask[sequence * frames + frame] = hidden[sequence * spans + Math.floor(frame / ECGFM_MASK_SPAN)]!;
    }
  }
  return mask;
}

/**
 * sum(weight * (a - b)^2) / (sum(weight) * spread): `weight` broadcasts over `a`, and `spread` is how
 * many elements of `a` each unit of weight covers once broadcast.
 */
function maskedMeanSquare(a: tf.Tensor, b: tf.Tensor, weight: tf.Tensor, spread: number): tf.Scalar {
  const total = tf.sum(tf.mul(tf.square(tf.sub(a, b)), weight));
  return tf.div(total, tf.maximum(tf.mul(tf.sum(weight), spread), 1)) as tf.Scalar;
}
