import { InputError } from '@enecg/common';
import type { SafetensorsContents, Tensor } from './safetensors.ts';

/**
 * Hands out a checkpoint's tensors by their reference names, refusing (with the tensor's name) any that
 * is missing or mis-shaped, and, once the model is built, any left over: a silently ignored tensor is how
 * a checkpoint for a different architecture gets half-loaded.
 */
export class WeightReader {
  private readonly taken = new Set<string>();

  constructor(
    private readonly contents: SafetensorsContents,
    private readonly source: string,
  ) {}

  take(name: string, shape: readonly number[]): Float32Array {
    const tensor: Tensor | undefined = this.contents.tensors.get(name);
    if (tensor === undefined) {
      throw new InputError(`tensor ${name} is missing (expected shape [${shape}])`, {
        file: this.source,
        field: name,
      });
    }
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new InputError(`tensor ${name} has shape [${tensor.shape}], expected [${shape}]`, {
        file: this.source,
        field: name,
      });
    }
    this.taken.add(name);
    return tensor.data;
  }

  /** Refuses tensors nobody took, except those matching `ignored` (e.g. a classification head we never run). */
  assertAllUsed(ignored: (name: string) => boolean = () => false): void {
    const left = [...this.contents.tensors.keys()].filter((n) => !this.taken.has(n) && !ignored(n));
    if (left.length > 0) {
      throw new InputError(`unexpected tensor(s) ${left.sort().join(', ')} for this architecture and size`, {
        file: this.source,
        field: left[0]!,
      });
    }
  }
}
