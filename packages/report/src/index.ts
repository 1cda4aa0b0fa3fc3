export type { Catalog, QueryLimits } from './catalog.ts';
export {
  DEFAULT_QUERY_LIMITS,
  DOCUMENTED_VIEWS,
  openCatalog,
  queryCatalog,
  refreshCatalog,
} from './catalog.ts';
export type { ChampionDecisionRecord, ChampionStatus } from './decisions.ts';
export {
  championStatus,
  decisionsFolder,
  formatTaskComparison,
  readDecisions,
  storeDecision,
} from './decisions.ts';
export type {
  DatasetSummary,
  DownstreamAnswer,
  JobDiff,
  MetricChange,
  RunDiff,
  RunSummary,
  UpstreamAnswer,
  ValueChange,
} from './lineage-queries.ts';
export { lineageDiff, lineageDownstream, lineageUpstream } from './lineage-queries.ts';
export type { VerifyAnswer, VerifyOptions, VerifyProblem } from './lineage-verify.ts';
export { formatProblem, lineageVerify, UNTRACKED_WAREHOUSE_PATHS } from './lineage-verify.ts';
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
