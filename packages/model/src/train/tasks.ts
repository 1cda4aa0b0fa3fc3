import type { TaskKey, TaskKind } from '../evaluation-types.ts';

export interface TaskSpec {
  kind: TaskKind;
  /** Head output width: 1 for regression, the number of classes otherwise. */
  outputs: number;
}

/** The five tasks of the method (see docs/architecture.md, label row contract). */
export const TASK_SPECS: Readonly<Record<TaskKey, TaskSpec>> = {
  rr_interval: { kind: 'regression', outputs: 1 },
  age: { kind: 'regression', outputs: 1 },
  gender: { kind: 'binary', outputs: 2 },
  flag: { kind: 'binary', outputs: 2 },
  report_label: { kind: 'multiclass', outputs: 15 },
};
