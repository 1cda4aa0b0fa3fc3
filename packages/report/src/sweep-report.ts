import { join } from 'node:path';
import { sha256, writeFileAtomic } from '@enecg/common';
import type { MetricSet, TaskKey } from '@enecg/model';
import type { TopLevelSpec } from 'vega-lite';
import { type Plot, renderPlot } from './plots.ts';

/** Per task: the ensemble's metrics with their bootstrap 95% intervals, and the labelled rows. */
export type SweepSplitMetrics = Partial<Record<TaskKey, { n: number; ensemble: MetricSet }>>;

/** How one sweep trial performed and what it cost. */
export interface SweepTrial {
  trialId: string;
  runId: string;
  params: Record<string, unknown>;
  tasks: TaskKey[];
  status: 'complete' | 'stopped-early';
  screenValLoss?: number;
  modelId: string;
  epochsRun: number;
  bestEpoch: number;
  trainableParameters: number;
  totalParameters: number;
  secondsPerEpoch: number;
  peakTensorBytes: number;
  peakRssBytes: number;
  ecgsPerSecond?: number;
  validation?: SweepSplitMetrics;
  /** Reported, never used to choose. */
  test?: SweepSplitMetrics;
}

export interface SweepFront {
  metric: string;
  points: Array<{ trialId: string; accuracy: number; peakTensorBytes: number; ecgsPerSecond: number }>;
}

export interface SweepReportInput {
  /** The sweep's folder (warehouse/sweeps/<sweepId>); report.html and report.md go there. */
  dir: string;
  sweepId: string;
  searchDescription: string;
  earlyStoppingRule: string;
  selectionRule: string;
  chosen: string | null;
  fronts: Partial<Record<string, SweepFront>>;
  trials: SweepTrial[];
}

export interface SweepReportSummary {
  html: string;
  markdown: string;
  htmlSha256: string;
  markdownSha256: string;
  plots: number;
}

const MIB = 2 ** 20;

function formatMetric(set: SweepSplitMetrics | undefined, task: TaskKey, metric: string): string {
  const value = set?.[task]?.ensemble[metric];
  if (!value) return '';
  return `${formatNumber(value.value)} [${formatNumber(value.lo)}, ${formatNumber(value.hi)}]`;
}

/** Undefined metrics (e.g. AUROC of a split with one class) travel as null through JSON. */
function formatNumber(value: number | null): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(3) : 'n/a';
}

function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(' ');
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  );
}

interface Table {
  header: string[];
  rows: string[][];
}

function trialTable(input: SweepReportInput): Table {
  const tasks = Object.keys(input.fronts) as TaskKey[];
  const header = [
    'trial',
    'params',
    'status',
    ...tasks.flatMap((task) => [
      `${task} val ${input.fronts[task]?.metric}`,
      `${task} test ${input.fronts[task]?.metric}`,
    ]),
    'trainable params',
    'peak tensor MiB',
    'peak RSS MiB',
    's/epoch',
    'ECGs/s',
  ];
  const rows = input.trials.map((trial) => [
    trial.trialId === input.chosen ? `${trial.trialId} (chosen)` : trial.trialId,
    formatParams(trial.params),
    trial.status === 'complete'
      ? `${trial.epochsRun} epochs`
      : `stopped early (val loss ${trial.screenValLoss?.toFixed(4)})`,
    ...tasks.flatMap((task) => {
      const metric = input.fronts[task]?.metric as string;
      return [formatMetric(trial.validation, task, metric), formatMetric(trial.test, task, metric)];
    }),
    String(trial.trainableParameters),
    (trial.peakTensorBytes / MIB).toFixed(2),
    (trial.peakRssBytes / MIB).toFixed(0),
    trial.secondsPerEpoch.toFixed(2),
    trial.ecgsPerSecond === undefined ? '' : trial.ecgsPerSecond.toFixed(0),
  ]);
  return { header, rows };
}

function frontTable(front: SweepFront): Table {
  return {
    header: ['trial', `val ${front.metric}`, 'peak tensor MiB', 'ECGs/s'],
    rows: front.points.map((p) => [
      p.trialId,
      p.accuracy.toFixed(3),
      (p.peakTensorBytes / MIB).toFixed(2),
      p.ecgsPerSecond.toFixed(0),
    ]),
  };
}

/** Every evaluated trial, with the Pareto-optimal ones marked, against memory and against throughput. */
function frontChart(task: string, front: SweepFront, trials: SweepTrial[]): TopLevelSpec {
  const onFront = new Set(front.points.map((p) => p.trialId));
  const values = trials.flatMap((trial) => {
    const value = trial.validation?.[task as TaskKey]?.ensemble[front.metric]?.value;
    if (typeof value !== 'number' || !Number.isFinite(value) || trial.ecgsPerSecond === undefined) return [];
    return [
      {
        trial: trial.trialId,
        metric: value,
        memory: trial.peakTensorBytes / MIB,
        throughput: trial.ecgsPerSecond,
        set: onFront.has(trial.trialId) ? 'Pareto front' : 'dominated',
      },
    ];
  });
  const colour = {
    field: 'set',
    type: 'nominal',
    title: null,
    scale: { domain: ['Pareto front', 'dominated'], range: ['#d62728', '#8c8c8c'] },
  } as const;
  const y = {
    field: 'metric',
    type: 'quantitative',
    title: `val ${front.metric}`,
    scale: { zero: false },
  } as const;
  return {
    data: { values },
    hconcat: [
      {
        width: 260,
        height: 200,
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'memory', type: 'quantitative', title: 'peak tensor MiB' },
          y,
          color: colour,
        },
      },
      {
        width: 260,
        height: 200,
        mark: { type: 'point', filled: true, size: 60 },
        encoding: { x: { field: 'throughput', type: 'quantitative', title: 'ECGs/s' }, y, color: colour },
      },
    ],
  };
}

function htmlTable(table: Table): string {
  const head = table.header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join('');
  const body = table.rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function markdownTable(table: Table): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(table.header), line(table.header.map(() => '---')), ...table.rows.map(line)].join('\n');
}

/**
 * Renders the sweep report (report.html with inline SVG charts, report.md) into the sweep's folder:
 * every trial, the Pareto front of validation accuracy against memory and throughput per task, and the
 * chosen configuration with the rule that chose it. Deterministic for the same input.
 */
export async function renderSweepReport(input: SweepReportInput): Promise<SweepReportSummary> {
  const chosen = input.trials.find((trial) => trial.trialId === input.chosen);
  const chosenLine = chosen
    ? `${chosen.trialId}: ${formatParams(chosen.params)} (model ${chosen.modelId})`
    : 'none (no trial met the rule)';
  const trials = trialTable(input);
  const tasks = Object.keys(input.fronts);
  const plots: Plot[] = [];
  for (const task of tasks) {
    const front = input.fronts[task] as SweepFront;
    plots.push(
      await renderPlot(
        `pareto-${task}`,
        `${task}: validation ${front.metric} against cost`,
        frontChart(task, front, input.trials),
      ),
    );
  }
  const completed = input.trials.filter((t) => t.status === 'complete').length;
  const counts = `${input.trials.length} trials: ${completed} complete, ${input.trials.length - completed} stopped early`;

  const html = [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<title>Sweep ${escapeHtml(input.sweepId)}</title>`,
    '<style>body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:2em;}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.chosen{background:#fff3cd;padding:0.5em}</style>',
    '</head><body>',
    `<h1>Sweep ${escapeHtml(input.sweepId)}</h1>`,
    `<p>${escapeHtml(input.searchDescription)}. ${escapeHtml(counts)}.</p>`,
    `<p>Early stopping: ${escapeHtml(input.earlyStoppingRule)}</p>`,
    '<h2>Chosen configuration</h2>',
    `<p class="chosen"><b>${escapeHtml(chosenLine)}</b><br>Rule: ${escapeHtml(input.selectionRule)}</p>`,
    '<h2>Pareto fronts (validation metric against peak tensor memory and throughput)</h2>',
    ...tasks.flatMap((task) => [
      `<h3>${escapeHtml(task)}</h3>`,
      htmlTable(frontTable(input.fronts[task] as SweepFront)),
      ...plots
        .filter((plot) => plot.id === `pareto-${task}`)
        .map(
          (plot) =>
            `<figure data-plot="${escapeHtml(plot.id)}"><figcaption>${escapeHtml(plot.title)}</figcaption>${plot.svg}</figure>`,
        ),
    ]),
    '<h2>All trials</h2>',
    "<p>Metrics are the ensemble's point estimate [95% bootstrap interval]; test columns are reported only.</p>",
    htmlTable(trials),
    '</body></html>',
  ].join('\n');

  const markdown = [
    `# Sweep ${input.sweepId}`,
    '',
    `${input.searchDescription}. ${counts}.`,
    '',
    `Early stopping: ${input.earlyStoppingRule}`,
    '',
    '## Chosen configuration',
    '',
    `**${chosenLine}**`,
    '',
    `Rule: ${input.selectionRule}`,
    '',
    '## Pareto fronts',
    '',
    ...tasks.flatMap((task) => [
      `### ${task}`,
      '',
      markdownTable(frontTable(input.fronts[task] as SweepFront)),
      '',
    ]),
    '## All trials',
    '',
    markdownTable(trials),
    '',
  ].join('\n');

  const htmlPath = join(input.dir, 'report.html');
  const markdownPath = join(input.dir, 'report.md');
  await writeFileAtomic(htmlPath, html);
  await writeFileAtomic(markdownPath, markdown);
  return {
    html: htmlPath,
    markdown: markdownPath,
    htmlSha256: sha256(html),
    markdownSha256: sha256(markdown),
    plots: plots.length,
  };
}
