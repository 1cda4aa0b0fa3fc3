import { sha256File } from '@enecg/common';
import type * as tf from '@tensorflow/tfjs-core';
import { type PreprocessConfig, preprocessingHash, preprocessRecord } from '../../preprocess/index.ts';
import type { Expert, ExpertOptions } from '../types.ts';
import { disposeAll, tensorsOf } from './tensors.ts';
import { randomWeights, readWeightMap, type WeightMap, type WeightSpec } from './weights.ts';

/** What distinguishes one TensorFlow.js backbone expert from another; the rest is shared. */
export interface BackboneDefinition<P> {
  name: string;
  specs: readonly WeightSpec[];
  /** Validates the weights (refusing bad tensors by name) and lays them out for the forward pass. */
  prepare(weights: WeightMap, source: string): P;
  embeddingSize: number;
  preprocess: PreprocessConfig;
  /** The expert's own settings that shape its output, hashed with the preprocessing. */
  settings: Record<string, unknown>;
  batchSize: number;
  /** Preprocessed records ([leads x length], lead-major) -> embeddings [records, embeddingSize]. */
  forward(params: P, inputs: readonly Float32Array[]): tf.Tensor2D;
}

/**
 * An Expert around a backbone: weights from a safetensors checkpoint (reference names) or seeded random
 * init, records preprocessed by the shared pipeline, and forward passes in bounded batches so that memory
 * does not grow with the batch handed in.
 */
export async function createBackboneExpert<P>(
  options: ExpertOptions,
  definition: BackboneDefinition<P>,
): Promise<Expert> {
  const { weightsPath } = options;
  const weights =
    weightsPath === undefined
      ? randomWeights(definition.specs, options.seed)
      : await readWeightMap(weightsPath);
  let params: P;
  try {
    params = definition.prepare(weights, weightsPath ?? `random-init:${options.seed}`);
  } catch (error) {
    disposeAll(weights);
    throw error;
  }
  // Checkpoint tensors that preparation copied (transposed, merged) are no longer needed: free them now,
  // so that a loaded expert holds one copy of its weights.
  const kept = new Set(tensorsOf(params));
  for (const tensor of weights.values()) if (!kept.has(tensor)) tensor.dispose();
  const weightsId = weightsPath === undefined ? `random-init:${options.seed}` : await sha256File(weightsPath);
  return {
    name: definition.name,
    embeddingSize: definition.embeddingSize,
    weightsId,
    preprocessingHash: preprocessingHash(definition.preprocess, {
      expert: definition.name,
      ...definition.settings,
    }),
    async embed(batch) {
      const out: Float32Array[] = [];
      for (let start = 0; start < batch.length; start += definition.batchSize) {
        const chunk = batch.slice(start, start + definition.batchSize);
        const inputs = chunk.map((record) => preprocessRecord(record, definition.preprocess));
        const embeddings = definition.forward(params, inputs);
        const values = await embeddings.data<'float32'>();
        embeddings.dispose();
        for (let row = 0; row < chunk.length; row++) {
          out.push(values.slice(row * definition.embeddingSize, (row + 1) * definition.embeddingSize));
        }
      }
      return out;
    },
    dispose() {
      disposeAll(params);
    },
  };
}
