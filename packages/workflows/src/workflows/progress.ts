import { defineQuery, setHandler, upsertMemo } from '@temporalio/workflow';

/** The decision of a nightly run, as its query and memo show it. */
export interface DecisionSummary {
  verdict: string;
  promoted: boolean;
  champion: string | null;
  rule: string;
  reason: string;
}

/** Where a run is: what `enecg status`, `temporal workflow describe` (memo) and the Web UI show. */
export interface RunProgress {
  /** The stage running now, or `done`. */
  stage: string;
  completed: string[];
  decision?: DecisionSummary;
  lineageHead?: { sequence: number; sha256: string };
}

export const progressQuery = defineQuery<RunProgress>('progress');

/**
 * Answers the `progress` query and mirrors every change into the workflow's memo, so a run's stage and
 * decision are visible without reading its history.
 */
export function trackProgress() {
  const state: RunProgress = { stage: 'starting', completed: [] };
  setHandler(progressQuery, () => state);
  const publish = () => upsertMemo({ progress: state });
  return {
    enter(stage: string): void {
      if (state.stage !== 'starting') state.completed.push(state.stage);
      state.stage = stage;
      publish();
    },
    finish(result: Pick<RunProgress, 'decision' | 'lineageHead'>): void {
      if (state.stage !== 'starting') state.completed.push(state.stage);
      state.stage = 'done';
      Object.assign(state, result);
      publish();
    },
    decide(decision: DecisionSummary): void {
      state.decision = decision;
      publish();
    },
  };
}
