export type { LabelConfigInput } from './config.ts';
export { LabelConfig, parseLabelConfig, readLabelConfigFile } from './config.ts';
export type { DeriveLabelsOptions, LabelSummary, SourceSummary } from './derive.ts';
export { deriveLabels } from './derive.ts';
export type { LabelRow, Split } from './read.ts';
export { readLabels } from './read.ts';
export { LABEL_VERSION } from './rules.ts';
export { labelSourceFiles } from './sources.ts';
export type { LabelStatistics } from './statistics.ts';
export type { LabelSet } from './store.ts';
export {
  describeLabelSet,
  importLabelFile,
  LABEL_DERIVATIONS_TABLE,
  LABELS_TABLE,
  LATEST_LABEL_SET_SQL,
  labelSetFile,
  migrateFolderLabels,
} from './store.ts';
