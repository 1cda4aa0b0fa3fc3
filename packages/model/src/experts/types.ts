import type { EcgRecord } from '@enecg/common';

/**
 * A frozen expert: turns ECG records into fixed-size embeddings. Implementations live one per folder
 * under `experts/`, and register themselves in `experts/registry.ts`.
 */
export interface Expert {
  /** Registry name, e.g. `dlinear`. */
  readonly name: string;
  /** Length of each embedding vector. */
  readonly embeddingSize: number;
  /** sha256 of the weights file, `random-init:<seed>` when no weights were given, `none` for weightless experts. */
  readonly weightsId: string;
  /** Hash of everything that shapes the input: preprocessing settings, leads, lengths, expert config. */
  readonly preprocessingHash: string;
  /** Names of the embedding's elements, where each means something on its own (hand-made features). */
  readonly featureNames?: readonly string[];
  /**
   * Embeddings for a batch, one vector per record, independent of the batch's other members.
   * Throws `InputError` (naming the record) when a record cannot be used, e.g. a required lead is missing.
   */
  embed(batch: readonly EcgRecord[]): Promise<Float32Array[]>;
  /** Frees backend memory held by weights. */
  dispose(): void;
}

export interface ExpertOptions {
  /** A safetensors file with the expert's weights by their reference names; absent means seeded random init. */
  weightsPath?: string;
  seed: number;
  /** Expert-specific size and preprocessing settings, validated by the expert. */
  config?: Record<string, unknown>;
}

export interface ExpertFactory {
  readonly name: string;
  readonly description: string;
  create(options: ExpertOptions): Promise<Expert>;
  /**
   * Checks `config` as `create` resolves it, without loading weights or building tensors, so a run can
   * refuse a bad expert config before it starts. Throws ConfigError naming `<expert>.<key>`.
   */
  validateConfig(config: Record<string, unknown> | undefined): void;
}
