export type { ComplexArray } from './fft.ts';
export { fft, ifft, rfft } from './fft.ts';
export { finiteOrZero, zScoreJointly, zScorePerLead } from './normalize.ts';
export type { PreprocessConfig } from './pipeline.ts';
export {
  leadIndex,
  NORMALIZATIONS,
  PREPROCESSING_VERSION,
  preprocessingHash,
  preprocessRecord,
  validatePreprocessConfig,
} from './pipeline.ts';
export { resampleFourier } from './resample.ts';
export type { StlOptions, StlResult } from './stl.ts';
export { resolveStlOptions, stl } from './stl.ts';
