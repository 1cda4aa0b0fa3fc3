export type { LabelConfigInput } from './config.ts';
export { LabelConfig, parseLabelConfig, readLabelConfigFile } from './config.ts';
export type { DeriveLabelsOptions, LabelSummary, SourceSummary } from './derive.ts';
export { deriveLabels, labelsFile } from './derive.ts';
export type { LabelRow, Split } from './read.ts';
export { readLabels } from './read.ts';
export { LABEL_VERSION } from './rules.ts';
export { labelSourceFiles } from './sources.ts';
export type { LabelStatistics } from './statistics.ts';
