export type {
  EvaluationReport,
  MetricSet,
  MetricValue,
  TaskEvaluation,
  TaskKey,
  TaskKind,
} from './evaluation-types.ts';
export { TASKS } from './evaluation-types.ts';
export type { Expert, ExpertFactory, ExpertOptions } from './experts/types.ts';
