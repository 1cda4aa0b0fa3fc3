import { readFile } from 'node:fs/promises';
import type { EvaluationReport } from '@enecg/model';
import { formatNumber, formatTable } from './output.ts';

/** Headline metrics per task kind: what a reader compares first. */
const HEADLINE: Record<string, string[]> = {
  regression: ['mae'],
  binary: ['auroc', 'accuracy'],
  multiclass: ['auroc', 'f1'],
};

/** A titled table of an evaluation's headline metrics: the ensemble with its 95% interval, the baseline. */
export async function formatEvaluationFile(path: string): Promise<string> {
  const report = JSON.parse(await readFile(path, 'utf8')) as EvaluationReport;
  const { TASK_DISPLAY } = await import('@enecg/common');
  const rows: string[][] = [];
  for (const [task, evaluation] of Object.entries(report.tasks)) {
    if (!evaluation) continue;
    const display = TASK_DISPLAY[task];
    const title = display ? `${display.title}${display.unit ? ` (${display.unit})` : ''}` : task;
    for (const metric of HEADLINE[evaluation.kind] ?? []) {
      const value = evaluation.ensemble[metric];
      if (!value) continue;
      const verdict = evaluation.versusBaseline.metric === metric ? evaluation.versusBaseline.verdict : '';
      rows.push([
        title,
        String(evaluation.n),
        metric,
        `${formatNumber(value.value)} [${formatNumber(value.lo)}, ${formatNumber(value.hi)}]`,
        formatNumber(evaluation.baseline[metric]?.value ?? Number.NaN),
        verdict,
      ]);
    }
  }
  const randomInit = report.randomInitExperts.length
    ? `\nExperts without pretrained weights (${report.randomInitExperts.join(', ')}) carry little information: ` +
      'metrics near the baseline are expected.\n'
    : '';
  return (
    `Metrics of ${report.modelId} on the ${report.split} split (95% bootstrap intervals):\n` +
    formatTable(['task', 'n', 'metric', 'ensemble [95% CI]', 'baseline', 'vs baseline'], rows, {
      right: new Set([1]),
    }) +
    randomInit
  );
}
