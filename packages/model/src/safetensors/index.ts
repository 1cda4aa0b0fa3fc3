export type { SafetensorsContents, SafetensorsDtype, Tensor, TensorsToWrite } from './safetensors.ts';
export { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from './safetensors.ts';
export type { InitRule, WeightSource } from './weight-source.ts';
export { openWeights, seededWeights } from './weight-source.ts';
export { WeightReader } from './weights.ts';
