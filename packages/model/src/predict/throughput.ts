import { join } from 'node:path';
import { ConfigError, InputError, warehouseLayout } from '@enecg/common';
import { ensureTrainingBackend } from '../train/backend.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';
import { rowsOfSplit } from '../train/dataset.ts';
import { disposeWeights } from '../train/fit.ts';
import { GATE_INPUT_EXPERT, loadWarehouseSet, resolveFeatureSources } from '../train/warehouse-set.ts';
import { disposeInferenceModel, infer, inputsOfRows, toInferenceModel } from './infer.ts';

export interface ThroughputOptions {
  warehouse: string;
  modelId: string;
  /** ECGs per timed pass: the split's rows, repeated cyclically up to this count. */
  rows?: number;
  /** Timed passes after one untimed warm-up pass; the median pass gives the rate. */
  passes?: number;
  split?: 'test' | 'val';
}

export interface ThroughputSummary {
  modelId: string;
  split: 'test' | 'val';
  rows: number;
  passes: number;
  /** Median seconds per pass and the ECGs per second it gives. */
  medianSeconds: number;
  ecgsPerSecond: number;
  /** Bytes held by the merged (inference-form) weights. */
  inferenceWeightBytes: number;
  backend: string;
}

/**
 * Inference throughput of a trained model, measured the same way for every model: the merged heads and
 * gates run over `rows` cached feature rows of one split (the frozen experts' cost is the same for
 * every head configuration, so it is left out), timed over several passes after a warm-up.
 */
export async function measureInferenceThroughput(options: ThroughputOptions): Promise<ThroughputSummary> {
  const rows = options.rows ?? 1024;
  const passes = options.passes ?? 5;
  const split = options.split ?? 'test';
  if (!(Number.isInteger(rows) && rows > 0)) throw new ConfigError('must be an integer > 0', 'rows');
  if (!(Number.isInteger(passes) && passes > 0)) throw new ConfigError('must be an integer > 0', 'passes');
  const backend = await ensureTrainingBackend();
  const modelDir = join(warehouseLayout(options.warehouse).models, options.modelId);
  const { manifest, weights } = await loadCheckpoint(modelDir);
  const sources = await resolveFeatureSources(
    options.warehouse,
    manifest.shape.experts.map(({ name }) => `${name}/${manifest.featureCaches[name]}`),
    manifest.featureCaches[GATE_INPUT_EXPERT],
  );
  const { set } = await loadWarehouseSet(options.warehouse, sources, manifest.labelSet);
  const available = rowsOfSplit(set, split);
  if (available.length === 0) {
    throw new InputError(`the ${split} split has no rows with cached features`, {
      file: warehouseLayout(options.warehouse).labels,
      field: 'split',
    });
  }
  const inputs = inputsOfRows(
    set,
    Array.from({ length: rows }, (_, i) => available[i % available.length] as number),
  );
  const model = toInferenceModel(manifest.shape, weights, manifest.targetScale);
  disposeWeights(weights);
  try {
    infer(model, inputs);
    const seconds: number[] = [];
    for (let pass = 0; pass < passes; pass++) {
      const start = process.hrtime.bigint();
      infer(model, inputs);
      seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    seconds.sort((a, b) => a - b);
    const medianSeconds = seconds[Math.floor(seconds.length / 2)] as number;
    const inferenceWeightBytes = Object.values(model.merged).reduce((sum, t) => sum + t.size * 4, 0);
    return {
      modelId: manifest.modelId,
      split,
      rows,
      passes,
      medianSeconds,
      ecgsPerSecond: rows / medianSeconds,
      inferenceWeightBytes,
      backend: backend.tfBackend,
    };
  } finally {
    disposeInferenceModel(model);
  }
}
