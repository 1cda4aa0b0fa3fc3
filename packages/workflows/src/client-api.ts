/**
 * What a Temporal client and a local dev server need, without the stages behind the activities: `enecg
 * status`, `cancel`, `schedule`, `setup` and `server` import this instead of the package's index, so they
 * start without loading TensorFlow.js, DuckDB and the rest.
 */
export { connectClient, newPipelineRunId, startPipeline } from './client.ts';
export { configuredAddress, resolveTemporalTarget } from './connection.ts';
export { connectOrStartServer } from './dev-server.ts';
export type { RetrainScheduleOptions, ScheduleSummary } from './schedules.ts';
export {
  createRetrainSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  triggerSchedule,
  updateRetrainSchedule,
} from './schedules.ts';
export { ensureTemporalCli } from './temporal-cli.ts';
