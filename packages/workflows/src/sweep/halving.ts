// Pure logic, imported by the sweep workflow: no Node built-ins, no package imports.

/**
 * The one-rung successive-halving rule: within each loss group (trials whose validation losses are
 * comparable), a trial whose screening validation loss exceeds the group's best by more than
 * margin x |best| is stopped. Trials without a finite loss (no validation rows) are kept.
 */
export function hopelessTrials(
  screened: ReadonlyArray<{ trialId: string; lossGroup: string; valLoss: number }>,
  margin: number,
): Set<string> {
  const best = new Map<string, number>();
  for (const { lossGroup, valLoss } of screened) {
    if (Number.isFinite(valLoss)) best.set(lossGroup, Math.min(best.get(lossGroup) ?? Infinity, valLoss));
  }
  return new Set(
    screened
      .filter(({ lossGroup, valLoss }) => {
        const groupBest = best.get(lossGroup);
        return (
          groupBest !== undefined &&
          Number.isFinite(valLoss) &&
          valLoss > groupBest + margin * Math.abs(groupBest)
        );
      })
      .map(({ trialId }) => trialId),
  );
}
