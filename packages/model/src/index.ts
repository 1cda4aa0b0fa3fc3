export type { BackendChoice, BackendInfo, NativeSetupResult, NativeVariant } from './backend/index.ts';
export {
  activeBackend,
  BACKEND_CHOICES,
  backendLabel,
  describeNativeSetup,
  installedBackends,
  nativeBackendSetting,
  nativeBuildStatus,
  parseBackendChoice,
  requireGpuBackend,
  selectBackend,
  setupNativeBackend,
  withKernelFallback,
} from './backend/index.ts';
export type { EvaluateStageOptions, EvaluateSummary } from './evaluate/stage.ts';
export { evaluate } from './evaluate/stage.ts';
export type {
  BaselineComparison,
  BestExpertComparison,
  EvaluationReport,
  MetricSet,
  MetricValue,
  PairedSamples,
  TaskEvaluation,
  TaskKey,
  TaskKind,
} from './evaluation-types.ts';
export { PRIMARY_METRIC, TASKS } from './evaluation-types.ts';
export {
  createExpert,
  expertFactories,
  expertNames,
  getExpertFactory,
  validateExpertConfig,
} from './experts/registry.ts';
export type { Expert, ExpertFactory, ExpertOptions } from './experts/types.ts';
export type {
  CachedContent,
  CacheFeaturesOptions,
  FeatureMatrix,
  FeatureProgress,
  FeatureSetManifest,
  FeatureSummary,
  ReadFeaturesOptions,
  RecordSource,
  SourceRecord,
} from './features/index.ts';
export {
  cacheFeatures,
  cacheFeaturesFrom,
  featureSetDir,
  featureSetKey,
  readFeatures,
  readManifest,
} from './features/index.ts';
export type { Predictor, PredictorOptions, PredictResult, TaskPrediction } from './predict/predict.ts';
export { loadPredictor, predict } from './predict/predict.ts';
export type { ThroughputOptions, ThroughputSummary } from './predict/throughput.ts';
export { measureInferenceThroughput } from './predict/throughput.ts';
export type { PreprocessConfig, StlOptions, StlResult } from './preprocess/index.ts';
export {
  leadIndex,
  preprocessingHash,
  preprocessRecord,
  resampleFourier,
  stl,
  validatePreprocessConfig,
  zScoreJointly,
  zScorePerLead,
} from './preprocess/index.ts';
export type {
  CurvePoint,
  PretrainConfig,
  PretrainConfigInput,
  PretrainManifest,
  PretrainOptions,
  PretrainProgress,
  PretrainSegment,
  PretrainSegmentOptions,
  PretrainSummary,
} from './pretrain/index.ts';
export {
  CHECKPOINT_FILE,
  PRETRAIN_DEFAULTS,
  PRETRAIN_MANIFEST_FILE,
  pretrainableExperts,
  pretrainDir,
  pretrainExpert,
  pretrainSegment,
  requirePretrainable,
  resolvePretrainConfig,
} from './pretrain/index.ts';
export type {
  InitRule,
  SafetensorsContents,
  Tensor,
  TensorsToWrite,
  WeightSource,
} from './safetensors/index.ts';
export {
  decodeSafetensors,
  encodeSafetensors,
  openWeights,
  readSafetensors,
  seededWeights,
  WeightReader,
  writeSafetensors,
} from './safetensors/index.ts';
export type { TrainConfig, TrainConfigInput } from './train/config.ts';
export { checkTopK, resolveTrainConfig } from './train/config.ts';
export type { RowMatrix, TrainingSet } from './train/dataset.ts';
export { tensorBytesInUse } from './train/memory.ts';
export type { TrainOptions, TrainProgress, TrainSummary } from './train/stage.ts';
export { train } from './train/stage.ts';
