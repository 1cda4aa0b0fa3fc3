import { join } from 'node:path';
import type { DatasetRef, LineageFacets, LineageHead } from '@enecg/common';
import {
  appendLineageEvent,
  ConfigError,
  canonicalJson,
  describeDataset,
  hashObject,
  lineageEventHead,
  newRunId,
  sha256,
  storeContentOnce,
  warehouseLayout,
} from '@enecg/common';
import type {
  BaselineComparison,
  BestExpertComparison,
  EvaluationReport,
  MetricSet,
  TaskEvaluation,
} from '@enecg/model';
import { openCatalog, refreshCatalog } from './catalog.ts';
import { type DataStatistics, dataStatistics } from './data-statistics.ts';
import { type ChampionDecisionRecord, readDecisions } from './decisions.ts';
import { readEvaluations } from './lineage-queries.ts';
import { normalizeDatasetPath, readLineageEvents, runFamily, type StoredEvent } from './lineage-store.ts';
import {
  confusionChart,
  countChart,
  gateWeightChart,
  histogramChart,
  type IntervalPoint,
  intervalChart,
  type Plot,
  renderPlot,
  scatterChart,
  trainingCurveChart,
} from './plots.ts';

/** Display names of label values; the labels package's contract fixes the codes. */
const CLASS_NAMES: Record<string, string[]> = {
  gender: ['M', 'F'],
  flag: ['normal', 'abnormal'],
  potassium_class: ['hypo', 'normal', 'hyper'],
  report_label: [
    '0 sinus rhythm',
    '1 sinus brady',
    '2 sinus tachy',
    '3 AFib',
    '4 borderline 1AVB',
    '5 1st deg AVB',
    '6 AFib RVR',
    '7 sinus arrhythmia',
    '8 PAC(s)',
    '9 V-pacing',
    '10 acute STEMI?',
    '11 data quality',
    '12 PVC(s)',
    '13 ectopic atrial',
    '14 other',
  ],
};

const UNITS: Record<string, string> = { rr_interval: 'ms', age: 'years' };

/** Jobs that describe a run rather than produce it; leaving them out keeps re-rendering deterministic. */
const REPORT_JOB = 'report';

export interface RenderReportOptions {
  warehouse: string;
  runId: string;
}

export interface RenderReportSummary {
  runId: string;
  html: string;
  markdown: string;
  htmlSha256: string;
  markdownSha256: string;
  models: string[];
  plots: number;
  /** The lineage chain head at the report's own event: keep it to check the warehouse's history later. */
  lineageHead: LineageHead;
}

interface RunRow {
  runId: string;
  job: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  outputs: DatasetRef[];
  facets: LineageFacets;
}

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function shortHash(hash: string | undefined): string {
  return hash ? hash.slice(0, 12) : '';
}

function durationSeconds(start: string, end: string | null): string {
  if (end === null) return '';
  return `${((Date.parse(end) - Date.parse(start)) / 1000).toFixed(1)} s`;
}

/** Ensemble first, then each expert, then the trivial baseline. */
function metricSources(evaluation: TaskEvaluation): Array<[string, MetricSet]> {
  return [
    ['ensemble', evaluation.ensemble],
    ...Object.entries(evaluation.experts).map(([expert, set]): [string, MetricSet] => [expert, set]),
    ['baseline', evaluation.baseline],
  ];
}

function metricNames(evaluation: TaskEvaluation): string[] {
  return [...new Set(metricSources(evaluation).flatMap(([, set]) => Object.keys(set)))];
}

/** The metrics worth a chart: errors for regression; accuracy, F1 and AUROC for classification. */
function chartedMetrics(evaluation: TaskEvaluation): string[] {
  const wanted = evaluation.kind === 'regression' ? ['mae', 'mse'] : ['accuracy', 'f1', 'auroc'];
  return metricNames(evaluation).filter((name) => wanted.includes(name));
}

/** One row per run and job; shards of a job (several COMPLETE events) add up their outputs. */
function runRows(events: StoredEvent[], family: Set<string>): RunRow[] {
  const rows = new Map<string, RunRow>();
  for (const event of events) {
    if (!family.has(event.run.runId) || event.job.name === REPORT_JOB) continue;
    const key = `${event.run.runId}\t${event.job.name}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        runId: event.run.runId,
        job: event.job.name,
        status: 'RUNNING',
        startedAt: event.eventTime,
        endedAt: null,
        outputs: [],
        facets: {},
      };
      rows.set(key, row);
    }
    if (event.eventType !== 'START') {
      if (row.status !== 'FAIL') row.status = event.eventType;
      row.endedAt = event.eventTime;
      row.outputs = [...row.outputs, ...event.outputs];
    }
    row.facets = { ...row.facets, ...event.facets };
  }
  return [...rows.values()].sort(
    (a, b) => a.startedAt.localeCompare(b.startedAt) || a.job.localeCompare(b.job),
  );
}

function labelVersionOf(runs: RunRow[]): string | null {
  for (const run of runs) if (run.facets.labelRules?.version) return run.facets.labelRules.version;
  return null;
}

interface Section {
  title: string;
  html: string;
  markdown: string;
}

function figure(plot: Plot): string {
  return `<figure class="plot" data-plot="${escapeHtml(plot.id)}"><figcaption>${escapeHtml(plot.title)}</figcaption>${plot.svg}</figure>`;
}

function htmlTable(header: string[], rows: string[][]): string {
  const head = header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join('');
  const body = rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function bothTables(header: string[], rows: string[][]): { html: string; markdown: string } {
  return { html: htmlTable(header, rows), markdown: markdownTable(header, rows) };
}

const VERDICT_WORDS: Record<BaselineComparison['verdict'], string> = {
  better: 'the ensemble beats the baseline',
  worse: 'the ensemble is worse than the baseline',
  inconclusive: 'no evidence that the ensemble differs from the baseline',
};

function baselineVerdict({ metric, difference, verdict }: BaselineComparison): string {
  const interval = `${formatNumber(difference.value)} [${formatNumber(difference.lo)}, ${formatNumber(difference.hi)}]`;
  return `Ensemble minus baseline, ${metric} (paired 95% interval): ${interval}; ${VERDICT_WORDS[verdict]}.`;
}

const BEST_EXPERT_WORDS: Record<BestExpertComparison['verdict'], string> = {
  better: 'the ensemble beats its best single expert',
  worse: 'the ensemble is worse than its best single expert',
  inconclusive: 'no evidence that the ensemble differs from its best single expert',
};

function bestExpertVerdict({ expert, metric, difference, verdict }: BestExpertComparison): string {
  const interval = `${formatNumber(difference.value)} [${formatNumber(difference.lo)}, ${formatNumber(difference.hi)}]`;
  return `Ensemble minus its best single expert (${expert}), ${metric} (paired 95% interval): ${interval}; ${BEST_EXPERT_WORDS[verdict]}.`;
}

/** One sentence a reader cannot miss: which experts carry pretrained, random or no weights. */
function expertWeightsSentence(report: EvaluationReport): string {
  const weightless = new Set(report.weightlessExperts ?? []);
  const random = new Set(report.randomInitExperts);
  const kind = (name: string) =>
    random.has(name)
      ? 'random-init (no checkpoint given)'
      : weightless.has(name)
        ? 'no weights needed (classical measurements)'
        : 'checkpoint';
  return `Expert weights: ${report.experts.map((name) => `${name}: ${kind(name)}`).join('; ')}.`;
}

/** Per task: the ensemble against its best single expert, and the mean gate weight of every expert. */
async function comparisonSection(
  report: EvaluationReport,
  add: (plot: Promise<Plot>) => Promise<string>,
): Promise<{ html: string[]; markdown: string[] }> {
  const tasks = Object.entries(report.tasks).filter(
    (entry): entry is [string, TaskEvaluation] => entry[1] !== undefined,
  );
  const html: string[] = [];
  const markdown: string[] = [];
  const compared = tasks.filter(([, evaluation]) => evaluation.versusBestExpert);
  if (compared.length > 0) {
    const table = bothTables(
      [
        'task',
        'best single expert',
        'metric',
        'ensemble minus best expert [paired 95%]',
        'verdict',
        'ensemble minus baseline [paired 95%]',
      ],
      compared.map(([task, evaluation]) => {
        const best = evaluation.versusBestExpert as BestExpertComparison;
        const base = evaluation.versusBaseline;
        const interval = ({ value, lo, hi }: { value: number; lo: number; hi: number }) =>
          `${formatNumber(value)} [${formatNumber(lo)}, ${formatNumber(hi)}]`;
        return [
          task,
          best.expert,
          best.metric,
          interval(best.difference),
          best.verdict,
          `${interval(base.difference)} ${base.verdict}`,
        ];
      }),
    );
    const note =
      'The best single expert is the expert head that scores best alone on this split (lower MAE, higher AUROC), ' +
      "so the comparison favours the expert. Verdicts are from the ensemble's side: better, worse, or inconclusive " +
      'when the paired interval includes 0.';
    html.push('<h3>Ensemble against its best single expert</h3>', table.html, `<p>${escapeHtml(note)}</p>`);
    markdown.push('### Ensemble against its best single expert', '', table.markdown, '', note, '');
  }
  const weighted = tasks.filter(([, evaluation]) => Object.keys(evaluation.gateWeightMean).length > 0);
  if (weighted.length > 0) {
    const table = bothTables(
      ['task', ...report.experts],
      weighted.map(([task, evaluation]) => [
        task,
        ...report.experts.map((expert) => {
          const weight = evaluation.gateWeightMean[expert];
          return weight === undefined ? '' : weight.toFixed(2);
        }),
      ]),
    );
    const byTask = Object.fromEntries(
      weighted.map(([task, evaluation]) => [task, evaluation.gateWeightMean]),
    );
    const plot = await add(
      renderPlot(
        `${report.modelId}-gate-by-task`,
        'mean gate weight per expert and task',
        gateWeightChart(byTask, 'task'),
      ),
    );
    html.push(
      '<h3>Which expert the gate trusts, per task</h3>',
      table.html,
      `<div class="figures">${plot}</div>`,
    );
    markdown.push(
      '### Which expert the gate trusts, per task',
      '',
      'Mean gate weight on the evaluated split.',
      '',
      table.markdown,
      '',
    );
  }
  return { html, markdown };
}

async function modelSection(report: EvaluationReport, plots: Plot[]): Promise<Section> {
  const add = async (plot: Promise<Plot>) => {
    const rendered = await plot;
    plots.push(rendered);
    return figure(rendered);
  };
  const html: string[] = [
    `<p>Evaluated on the <b>${escapeHtml(report.split)}</b> split. Experts: ${escapeHtml(report.experts.join(', '))}.
     Trainable parameters: ${report.trainableParameters.toLocaleString('en-US')} of
     ${report.totalParameters.toLocaleString('en-US')}.</p>`,
  ];
  const markdown: string[] = [
    `Evaluated on the **${report.split}** split. Experts: ${report.experts.join(', ')}. ` +
      `Trainable parameters: ${report.trainableParameters} of ${report.totalParameters}.`,
  ];
  const weightsSentence = expertWeightsSentence(report);
  html.push(`<p>${escapeHtml(weightsSentence)}</p>`);
  markdown.push('', weightsSentence);
  if (report.randomInitExperts.length > 0) {
    const warning =
      `Experts without a checkpoint (random initialisation): ${report.randomInitExperts.join(', ')}. ` +
      'Their features are not pretrained, so metrics near the baseline are expected; give each expert ' +
      'its converted checkpoint (`experts[].weights` in the pipeline config) for meaningful numbers.';
    html.push(`<p class="warning">${escapeHtml(warning)}</p>`);
    markdown.push('', `> ${warning}`);
  }
  const prefix = `${report.modelId}`;
  for (const [task, evaluation] of Object.entries(report.tasks)) {
    if (!evaluation) continue;
    const metrics = metricNames(evaluation);
    const table = bothTables(
      ['source', ...metrics],
      metricSources(evaluation).map(([source, set]) => [
        source,
        ...metrics.map((name) => {
          const metric = set[name];
          return metric
            ? `${formatNumber(metric.value)} [${formatNumber(metric.lo)}, ${formatNumber(metric.hi)}]`
            : '';
        }),
      ]),
    );
    html.push(
      `<h3>${escapeHtml(task)} <small>(${evaluation.kind}, n = ${evaluation.n})</small></h3>`,
      table.html,
    );
    const comparison = baselineVerdict(evaluation.versusBaseline);
    html.push(`<p>${escapeHtml(comparison)}</p>`);
    markdown.push(
      `### ${task} (${evaluation.kind}, n = ${evaluation.n})`,
      '',
      table.markdown,
      '',
      comparison,
    );
    if (evaluation.versusBestExpert) {
      const versusBest = bestExpertVerdict(evaluation.versusBestExpert);
      html.push(`<p>${escapeHtml(versusBest)}</p>`);
      markdown.push('', versusBest);
    }
    const points: IntervalPoint[] = metricSources(evaluation).flatMap(([source, set]) =>
      chartedMetrics(evaluation).flatMap((metric) => {
        const value = set[metric];
        return value ? [{ source, metric, ...value }] : [];
      }),
    );
    const figures: string[] = [];
    if (points.length > 0) {
      figures.push(
        await add(
          renderPlot(
            `${prefix}-${task}-metrics`,
            `${task}: metrics with 95% intervals`,
            intervalChart(points),
          ),
        ),
      );
    }
    if (evaluation.confusion) {
      const names = CLASS_NAMES[task] ?? evaluation.confusion.map((_, index) => String(index));
      figures.push(
        await add(
          renderPlot(
            `${prefix}-${task}-confusion`,
            `${task}: confusion matrix (ensemble)`,
            confusionChart(evaluation.confusion, names),
          ),
        ),
      );
    }
    if (evaluation.scatter && evaluation.scatter.length > 0) {
      figures.push(
        await add(
          renderPlot(
            `${prefix}-${task}-scatter`,
            `${task}: predicted vs true (ensemble)`,
            scatterChart(evaluation.scatter, UNITS[task] ?? ''),
          ),
        ),
      );
    }
    if (Object.keys(evaluation.gateWeightsByGroup).length > 0) {
      const byGroup = Object.fromEntries(
        Object.entries(evaluation.gateWeightsByGroup).map(([group, weights]) => [
          CLASS_NAMES[task]?.[Number(group)] ?? group,
          weights,
        ]),
      );
      const groupTitle = evaluation.kind === 'regression' ? 'label quartile' : 'true class';
      figures.push(
        await add(
          renderPlot(
            `${prefix}-${task}-gate`,
            `${task}: mean gate weight by ${groupTitle}`,
            gateWeightChart(byGroup, groupTitle),
          ),
        ),
      );
      const mean = Object.entries(evaluation.gateWeightMean)
        .map(([expert, weight]) => `${expert} ${weight.toFixed(2)}`)
        .join(', ');
      markdown.push('', `Mean gate weights: ${mean}.`);
    }
    html.push(`<div class="figures">${figures.join('')}</div>`);
    markdown.push('');
  }
  const comparisons = await comparisonSection(report, add);
  html.push(...comparisons.html);
  markdown.push(...comparisons.markdown);
  if (report.trainingCurve.length > 0) {
    html.push(
      '<h3>Training curve</h3>',
      `<div class="figures">${await add(
        renderPlot(
          `${prefix}-training-curve`,
          'training and validation loss',
          trainingCurveChart(report.trainingCurve, report.keptEpoch),
        ),
      )}</div>`,
    );
    const last = report.trainingCurve.at(-1)!;
    markdown.push(
      `Training: ${report.trainingCurve.length} epochs, final train loss ${formatNumber(last.trainLoss)}, ` +
        `validation loss ${formatNumber(last.valLoss)}.`,
    );
    if (report.keptEpoch !== undefined) {
      const kept = report.trainingCurve.find((point) => point.epoch === report.keptEpoch);
      const line =
        `The model keeps the weights of epoch ${report.keptEpoch} (lowest validation loss` +
        `${kept ? `, ${formatNumber(kept.valLoss)}` : ''}; the dashed line on the curve).`;
      html.push(`<p>${escapeHtml(line)}</p>`);
      markdown.push(line);
    }
  }
  return { title: `Model ${report.modelId}`, html: html.join('\n'), markdown: markdown.join('\n') };
}

async function dataSection(stats: DataStatistics, plots: Plot[]): Promise<Section> {
  const html: string[] = [];
  const markdown: string[] = [];
  const counts = [
    `records: ${stats.records ?? 'none ingested'}`,
    `quarantined: ${stats.quarantined ?? 0}`,
    `label version: ${stats.labelVersion ?? 'all'}`,
  ];
  html.push(`<p>${counts.map(escapeHtml).join(' · ')}</p>`);
  markdown.push(counts.join(' · '), '');
  for (const { view, reason } of stats.unavailable) {
    const warning = `The ${view} view could not be read, so its statistics are missing: ${reason}`;
    html.push(`<p class="warning">${escapeHtml(warning)}</p>`);
    markdown.push(`> ${warning}`, '');
  }
  if (stats.splits.length > 0) {
    const table = bothTables(
      ['split', 'studies', 'subjects'],
      stats.splits.map((row) => [row.split, String(row.studies), String(row.subjects)]),
    );
    html.push('<h3>Splits</h3>', table.html);
    markdown.push('### Splits', '', table.markdown, '');
  }
  if (stats.labels.length > 0) {
    const table = bothTables(
      ['label', 'labelled', 'missing', 'classes', 'mean', 'sd'],
      stats.labels.map((row) => [
        row.label,
        String(row.labelled),
        String(row.missing),
        row.classes === undefined ? '' : String(row.classes),
        row.mean === undefined ? '' : formatNumber(row.mean),
        row.sd === undefined ? '' : formatNumber(row.sd),
      ]),
    );
    html.push('<h3>Labels</h3>', table.html);
    markdown.push('### Labels', '', table.markdown, '');
  }
  const figures: string[] = [];
  for (const [label, rows] of Object.entries(stats.classCounts)) {
    const names = CLASS_NAMES[label];
    const named = rows.map((row) => ({ ...row, category: names?.[Number(row.category)] ?? row.category }));
    const plot = await renderPlot(
      `labels-${label}-classes`,
      `${label}: studies per class and split`,
      countChart(named, label),
    );
    plots.push(plot);
    figures.push(figure(plot));
  }
  for (const [label, bins] of Object.entries(stats.histograms)) {
    const plot = await renderPlot(
      `labels-${label}-histogram`,
      `${label}: distribution`,
      histogramChart(bins, `${label}${UNITS[label] ? ` (${UNITS[label]})` : ''}`),
    );
    plots.push(plot);
    figures.push(figure(plot));
  }
  if (figures.length > 0) html.push(`<div class="figures">${figures.join('')}</div>`);
  if (stats.quarantineReasons.length > 0) {
    const table = bothTables(
      ['quarantine reason', 'records'],
      stats.quarantineReasons.map((row) => [row.reason, String(row.count)]),
    );
    html.push('<h3>Quarantine</h3>', table.html);
    markdown.push('### Quarantine', '', table.markdown, '');
  }
  return { title: 'Data and labels', html: html.join('\n'), markdown: markdown.join('\n') };
}

/** The champion/challenger decisions a nightly run made, with the per-task evidence. */
function decisionSection(decisions: ChampionDecisionRecord[]): Section {
  const parts = decisions.map((decision) => {
    const intro =
      `${decision.decidedAt}: ${decision.verdict} under rule ${decision.rule} (confidence ${decision.confidence}), ` +
      `on split ${decision.split.name} (study ids sha256 ${shortHash(decision.split.sha256 ?? undefined)}). ` +
      `Champion before: ${decision.champion ?? 'none'}; challenger: ${decision.challenger}; champion now: ` +
      `${decision.championAfter ?? 'none'}. ${decision.reason}.`;
    const table = bothTables(
      ['task', 'metric', 'champion', 'challenger', 'improvement', 'interval', 'verdict'],
      decision.perTask.map((task) => [
        task.task,
        task.metric,
        formatNumber(task.champion),
        formatNumber(task.challenger),
        formatNumber(task.improvement.value),
        `[${formatNumber(task.improvement.lo)}, ${formatNumber(task.improvement.hi)}]`,
        task.verdict,
      ]),
    );
    return {
      html: `<p>${escapeHtml(intro)}</p>${decision.perTask.length > 0 ? table.html : ''}`,
      markdown: `${intro}\n\n${decision.perTask.length > 0 ? table.markdown : ''}`,
    };
  });
  return {
    title: 'Champion decision',
    html: parts.map((part) => part.html).join('\n'),
    markdown: parts.map((part) => part.markdown).join('\n\n'),
  };
}

function lineageSection(warehouse: string, runs: RunRow[]): Section {
  const runTable = bothTables(
    ['job', 'run', 'status', 'started', 'duration', 'outputs', 'git commit', 'config'],
    runs.map((run) => [
      run.job,
      run.runId,
      run.status,
      run.startedAt,
      durationSeconds(run.startedAt, run.endedAt),
      String(run.outputs.length),
      `${shortHash(run.facets.codeVersion?.gitCommit ?? undefined)}${run.facets.codeVersion?.gitDirty ? ' (dirty)' : ''}`,
      run.facets.config === undefined ? '' : shortHash(hashObject(run.facets.config)),
    ]),
  );
  const artifactTable = bothTables(
    ['job', 'artifact', 'path', 'rows', 'size', 'sha256'],
    runs.flatMap((run) =>
      run.outputs.map((output) => [
        run.job,
        output.name,
        normalizeDatasetPath(warehouse, output.path),
        output.rows === undefined ? '' : String(output.rows),
        formatBytes(output.bytes),
        shortHash(output.sha256),
      ]),
    ),
  );
  const facts: string[] = [];
  const lockfiles = new Set(runs.map((run) => run.facets.codeVersion?.lockfileSha256).filter(Boolean));
  if (lockfiles.size > 0)
    facts.push(`package-lock.json sha256: ${[...lockfiles].map((h) => shortHash(h!)).join(', ')}`);
  for (const run of runs) {
    if (run.facets.labelRules) {
      facts.push(
        `label rules ${run.facets.labelRules.version} (sha256 ${shortHash(run.facets.labelRules.sha256)})`,
      );
    }
    const seeds = {
      ...(run.facets.seed === undefined ? {} : { seed: run.facets.seed }),
      ...run.facets.seeds,
    };
    if (Object.keys(seeds).length > 0) {
      facts.push(
        `${run.job} seeds: ${Object.entries(seeds)
          .map(([key, seed]) => `${key}=${seed}`)
          .join(', ')}`,
      );
    }
    if (run.facets.backend !== undefined) {
      const backend = run.facets.backend;
      facts.push(`${run.job} backend: ${typeof backend === 'string' ? backend : canonicalJson(backend)}`);
    }
  }
  const factHtml =
    facts.length > 0 ? `<ul>${facts.map((fact) => `<li>${escapeHtml(fact)}</li>`).join('')}</ul>` : '';
  const rules = runs.flatMap((run) => (run.facets.labelRules ? [run.facets.labelRules] : []));
  const rulesHtml = rules
    .map(
      (rule) =>
        `<details><summary>Label rules ${escapeHtml(rule.version)} (SQL text as run)</summary><pre>${escapeHtml(rule.sql)}</pre></details>`,
    )
    .join('\n');
  const rulesMarkdown = rules.flatMap((rule) => [
    `### Label rules ${rule.version}`,
    '',
    '```sql',
    rule.sql,
    '```',
    '',
  ]);
  return {
    title: 'Lineage',
    html: [
      '<p>Query it yourself: <code>.read catalog.sql</code> in a DuckDB shell, or <code>enecg lineage</code>.</p>',
      factHtml,
      rulesHtml,
      '<h3>Runs</h3>',
      runTable.html,
      '<h3>Artifacts</h3>',
      artifactTable.html,
    ].join('\n'),
    markdown: [
      ...facts.map((fact) => `- ${fact}`),
      '',
      '### Runs',
      '',
      runTable.markdown,
      '',
      '### Artifacts',
      '',
      artifactTable.markdown,
      '',
      ...rulesMarkdown,
    ].join('\n'),
  };
}

const STYLE = `
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #4c78a8; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { margin-bottom: 0.4rem; } small { color: #666; font-weight: normal; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.4rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f3f6fa; } tbody tr:nth-child(even) { background: #fafafa; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure.plot { margin: 0; border: 1px solid #e3e3e3; padding: 0.5rem; background: white; }
figcaption { font-size: 0.85rem; font-weight: bold; margin-bottom: 0.3rem; }
nav a { margin-right: 1rem; } pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; } .warning { color: #a61b1b; font-weight: bold; } code { background: #f3f3f3; padding: 0 0.2rem; }
`;

function htmlPage(runId: string, summary: string, sections: Section[]): string {
  const anchors = sections.map((section, index) => ({ ...section, anchor: `section-${index + 1}` }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>EnECG run ${escapeHtml(runId)}</title><style>${STYLE}</style></head>
<body>
<h1>EnECG run <code>${escapeHtml(runId)}</code></h1>
<p>${escapeHtml(summary)}</p>
<nav>${anchors.map((section) => `<a href="#${section.anchor}">${escapeHtml(section.title)}</a>`).join('')}</nav>
${anchors.map((section) => `<section id="${section.anchor}"><h2>${escapeHtml(section.title)}</h2>\n${section.html}</section>`).join('\n')}
</body></html>
`;
}

/**
 * Renders `runs/<runId>/report.html` (self-contained: inline SVG plots rendered in Node, no scripts, nothing
 * fetched) and `report.md`. The same warehouse state always renders the same bytes, which a re-render
 * reuses; a report that differs is added as `report-<content hash>.html` (and `.md`), never rewritten.
 */
export async function renderReport(options: RenderReportOptions): Promise<RenderReportSummary> {
  const { warehouse, runId } = options;
  const events = await readLineageEvents(warehouse);
  if (!events.some((event) => event.run.runId === runId)) {
    throw new ConfigError(`no lineage event has run id ${runId} in ${warehouse}`, 'run');
  }
  const family = runFamily(events, runId);
  const runs = runRows(events, family);
  const evaluations = await readEvaluations(warehouse, events, family);
  const plots: Plot[] = [];
  const sections: Section[] = [];
  for (const { report } of evaluations) sections.push(await modelSection(report, plots));
  const catalog = await openCatalog(warehouse);
  let stats: DataStatistics;
  try {
    stats = await dataStatistics(catalog, labelVersionOf(runs));
  } finally {
    catalog.close();
  }
  sections.push(await dataSection(stats, plots));
  const decisions = (await readDecisions(warehouse)).filter((decision) => family.has(decision.runId));
  if (decisions.length > 0) sections.push(decisionSection(decisions));
  sections.push(lineageSection(warehouse, runs));

  const ended = runs.map((run) => run.endedAt).filter((time): time is string => time !== null);
  const failed = runs.filter((run) => run.status === 'FAIL').map((run) => run.job);
  const running = runs.filter((run) => run.status === 'RUNNING').map((run) => run.job);
  const status =
    failed.length > 0 ? `failed (${failed.join(', ')})` : running.length > 0 ? 'running' : 'complete';
  const nominal = events.find((event) => event.run.runId === runId)?.run.nominalTime;
  const summary =
    `${runs.length} job runs, ${status}; started ${runs[0]?.startedAt ?? '?'}` +
    `${ended.length > 0 ? `, last ended ${ended.sort().at(-1)}` : ''}` +
    `${nominal ? ` (scheduled for ${nominal})` : ''}; ` +
    `models: ${evaluations.map(({ report }) => report.modelId).join(', ') || 'none evaluated'}.`;

  const html = htmlPage(runId, summary, sections);
  const markdown = [
    `# EnECG run ${runId}`,
    '',
    summary,
    '',
    `Plots: report.html (${plots.length} charts).`,
    '',
    ...sections.flatMap((section) => [`## ${section.title}`, '', section.markdown, '']),
  ].join('\n');

  // The run's first report is report.html; a later one that differs (after a promotion decision, or a stage
  // run again) is stored beside it under its content hash, so the report a lineage event names stays as it was.
  const folder = join(warehouseLayout(warehouse).runs, runId);
  const htmlPath = await storeContentOnce(join(folder, 'report.html'), html);
  const markdownPath = await storeContentOnce(join(folder, 'report.md'), markdown);

  const inputs = await Promise.all(
    evaluations.map(({ report, path }) => describeDataset(`evaluation/${report.modelId}`, path)),
  );
  const outputs = [
    await describeDataset('report.html', htmlPath),
    await describeDataset('report.md', markdownPath),
  ];
  const event = await appendLineageEvent(warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId: newRunId(), parentRunId: runId },
    job: { name: REPORT_JOB },
    inputs,
    outputs,
    facets: { config: { runId } },
  });
  await refreshCatalog(warehouse);
  return {
    runId,
    html: htmlPath,
    markdown: markdownPath,
    htmlSha256: sha256(html),
    markdownSha256: sha256(markdown),
    models: evaluations.map(({ report }) => report.modelId),
    plots: plots.length,
    lineageHead: await lineageEventHead(event),
  };
}
