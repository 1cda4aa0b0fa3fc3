export type { PretrainConfig, PretrainConfigInput } from './config.ts';
export { PRETRAIN_DEFAULTS, resolvePretrainConfig } from './config.ts';
export { pretrainableExperts, requirePretrainable } from './objectives.ts';
export type { CurvePoint } from './progress.ts';
export type {
  PretrainManifest,
  PretrainOptions,
  PretrainProgress,
  PretrainSegment,
  PretrainSegmentOptions,
  PretrainSummary,
} from './stage.ts';
export {
  CHECKPOINT_FILE,
  PRETRAIN_MANIFEST_FILE,
  pretrainDir,
  pretrainExpert,
  pretrainSegment,
} from './stage.ts';
