export type { Catalog, QueryLimits } from './catalog.ts';
export {
  DEFAULT_QUERY_LIMITS,
  DOCUMENTED_VIEWS,
  openCatalog,
  queryCatalog,
  refreshCatalog,
} from './catalog.ts';
export type {
  DatasetSummary,
  DownstreamAnswer,
  JobDiff,
  MetricChange,
  RunDiff,
  RunSummary,
  UpstreamAnswer,
  ValueChange,
  VerifiedArtifact,
  VerifyAnswer,
} from './lineage-queries.ts';
export { lineageDiff, lineageDownstream, lineageUpstream, lineageVerify } from './lineage-queries.ts';
export type { RenderReportOptions, RenderReportSummary } from './report.ts';
export { renderReport } from './report.ts';
export type {
  SweepFront,
  SweepReportInput,
  SweepReportSummary,
  SweepSplitMetrics,
  SweepTrial,
} from './sweep-report.ts';
export { renderSweepReport } from './sweep-report.ts';
