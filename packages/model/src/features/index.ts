export type {
  CachedContent,
  CacheFeaturesOptions,
  FeatureProgress,
  FeatureSummary,
  RecordSource,
  SourceRecord,
} from './cache.ts';
export { cacheFeaturesFrom, DEFAULT_BATCH_SIZE, DEFAULT_SEED, recordContentSha256 } from './cache.ts';
export type { FeatureMatrix, FeatureSetManifest, ReadFeaturesOptions } from './store.ts';
export { featureSetDir, featureSetKey, listFeatureParts, readFeatures, readManifest } from './store.ts';
export { cacheFeatures } from './warehouse.ts';
