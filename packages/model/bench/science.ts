/**
 * Science benchmark: does the method work on data whose truth is known? Synthetic cohorts (fixed seed),
 * the whole chain (synth -> ingest -> labels -> features -> train -> evaluate) with experts {dlinear,
 * timesnet, measurements} together and each alone, both presets, all five tasks. Per cohort and preset
 * one table: task x {ensemble, each expert alone, baseline} on the headline metric with its 95% interval,
 * then the paired ensemble-minus-best-expert and ensemble-minus-baseline intervals (same subject-level
 * replicates for every model). Writes the tables to docs/results/science-benchmark.md with date and commit.
 *
 *   npm run bench:science                                 # cohorts of 500, 2,000 and 5,000 subjects
 *   BENCH_SCIENCE_COHORTS=500 npm run bench:science       # a subset
 *
 * Each cohort also pretrains the experts of BENCH_SCIENCE_PRETRAIN (default moment,ecgfm,dlinear,timesnet;
 * empty: none) on its training split (`pretrainExpert`, steps per expert from BENCH_SCIENCE_PRETRAIN_STEPS,
 * `moment:2000,ecgfm:2000,dlinear:1000,timesnet:300` by default, or one number for all), caches their features from
 * the pretrained checkpoints and trains each as a one-expert model with preset `default`: pretrained
 * against its random-init self on the same test rows and replicates, with the pretraining's cost in
 * CPU-minutes per 1,000 ECGs. An expert pretrained here but outside the ensemble (MOMENT, ECG-FM) gets its
 * random-init one-expert model too. BENCH_SCIENCE_PRESETS picks presets (default both).
 *
 * Work data lives in .work/bench-science/ and is reused by a second run (every stage is incremental).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ingest } from '@enecg/ingest';
import { deriveLabels } from '@enecg/labels';
import { generateSynthetic } from '@enecg/synth';
import { activeBackend } from '../src/backend/index.ts';
import { intervals, pairedDifference } from '../src/evaluate/bootstrap.ts';
import { type PairedTaskSamples, pairedSamplesOnSplit } from '../src/evaluate/evaluate-model.ts';
import { type MetricValue, TASKS, type TaskKey } from '../src/evaluation-types.ts';
import { cacheFeatures } from '../src/features/index.ts';
import {
  disposeInferenceModel,
  infer,
  inputsOfRows,
  type Predictions,
  toInferenceModel,
} from '../src/predict/infer.ts';
import { PRETRAIN_DEFAULTS, pretrainExpert } from '../src/pretrain/index.ts';
import { ensureTrainingBackend } from '../src/train/backend.ts';
import { resolveTrainConfig } from '../src/train/config.ts';
import { rowsOfSplit, type TrainingSet } from '../src/train/dataset.ts';
import { disposeWeights, fitModel } from '../src/train/fit.ts';
import { loadWarehouseSet, resolveFeatureSources } from '../src/train/warehouse-set.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const COHORTS = (process.env.BENCH_SCIENCE_COHORTS ?? '500,2000,5000').split(',').map(Number);
const SEED = 42;
const REPLICATES = Number(process.env.BENCH_SCIENCE_REPLICATES ?? 500);
const EXPERTS = ['dlinear', 'timesnet', 'measurements'] as const;
const PRESETS = (process.env.BENCH_SCIENCE_PRESETS ?? 'faithful,default').split(',') as Array<
  'faithful' | 'default'
>;
const PRETRAINED = (process.env.BENCH_SCIENCE_PRETRAIN ?? 'moment,ecgfm,dlinear,timesnet')
  .split(',')
  .filter(Boolean);
/** Experts trained alone beside the ensemble's: the pretrained ones the ensemble does not hold. */
const ALONE = [
  ...EXPERTS,
  ...PRETRAINED.filter((expert) => !(EXPERTS as readonly string[]).includes(expert)),
];
/** Pretraining steps per expert: the cheap transformer gets many, TimesNet (10x the CPU per step) few. */
const PRETRAIN_STEPS = pretrainSteps(
  process.env.BENCH_SCIENCE_PRETRAIN_STEPS ?? 'moment:2000,ecgfm:2000,dlinear:1000,timesnet:300',
);

function pretrainSteps(setting: string): (expert: string) => number {
  if (/^\d+$/.test(setting)) return () => Number(setting);
  const steps = new Map(
    setting.split(',').map((part) => {
      const [expert, count] = part.split(':');
      return [expert as string, Number(count)];
    }),
  );
  return (expert) => {
    const count = steps.get(expert);
    if (!Number.isInteger(count) || (count as number) < 1) {
      throw new Error(`BENCH_SCIENCE_PRETRAIN_STEPS names no step count for ${expert}`);
    }
    return count as number;
  };
}
const WORK = join(root, '.work', 'bench-science');
const OUTPUT = process.env.BENCH_SCIENCE_OUT ?? join(root, 'docs', 'results', 'science-benchmark.md');
/** The issue's targets, checked on the largest cohort. */
const TARGET_RR_MAE_MS = 15;

/** Orientation metrics the published papers quote, per task (ensemble only). */
const ORIENTATION: Record<TaskKey, string> = {
  rr_interval: 'mae',
  age: 'mae',
  gender: 'f1',
  flag: 'f1',
  report_label: 'accuracy',
};

interface StageTimes {
  [stage: string]: number;
}

interface TaskRow {
  task: TaskKey;
  n: number;
  metric: string;
  models: Record<string, MetricValue>;
  baseline: MetricValue;
  bestExpert: string;
  versusBest: MetricValue;
  versusBaseline: MetricValue;
  orientation: { metric: string; value: MetricValue };
  /** The ensemble's mean gate weight per expert on the task's test rows. */
  gate: Record<string, number>;
}

/** One task of one pretrained expert against its random-init self (one-expert models, preset default). */
interface PretrainedRow {
  task: TaskKey;
  expert: string;
  n: number;
  metric: string;
  random: MetricValue;
  pretrained: MetricValue;
  /** pretrained - random-init, paired over the same replicates. */
  difference: MetricValue;
}

interface PretrainCost {
  expert: string;
  steps: number;
  batchSize: number;
  trainRecords: number;
  cpuSeconds: number;
  heldOutLoss: { initial: number; final: number };
}

interface CohortResult {
  subjects: number;
  records: number;
  testRecords: number;
  times: StageTimes;
  presets: Record<string, { rows: TaskRow[]; epochs: Record<string, string> }>;
  pretrained: { rows: PretrainedRow[]; costs: PretrainCost[] };
}

const seconds = (start: number) => (performance.now() - start) / 1000;

/**
 * Runs one stage and records its time; `reused` tells from the stage's summary that it found its work
 * done by an earlier run (then only the check is timed, and the stage is named so).
 */
async function timed<T>(
  times: StageTimes,
  stage: string,
  work: () => Promise<T>,
  reused: (result: T) => boolean = () => false,
): Promise<T> {
  const start = performance.now();
  const result = await work();
  const name = reused(result) ? `${stage} (reused)` : stage;
  times[name] = (times[name] ?? 0) + seconds(start);
  process.stdout.write(`  ${name}: ${times[name]?.toFixed(1)} s\n`);
  return result;
}

/** Lower is better for MAE; the sign is turned so a positive `gain` always favours the first model. */
function verdict(metric: string, difference: MetricValue): string {
  const gain = metric === 'mae' ? { lo: -difference.hi, hi: -difference.lo } : difference;
  return gain.lo > 0 ? 'better' : gain.hi < 0 ? 'worse' : 'inconclusive';
}

/**
 * Mean gate weight per expert of the ensemble's predictions over the rows labelled for each task;
 * `order` is the model's expert order (`shape.experts`), which the gate weights follow.
 */
function gateMeans(
  set: TrainingSet,
  testRows: readonly number[],
  ensemble: Predictions,
  order: readonly string[],
): Partial<Record<TaskKey, Record<string, number>>> {
  const out: Partial<Record<TaskKey, Record<string, number>>> = {};
  for (const task of TASKS) {
    const predicted = ensemble[task];
    const labels = set.labels[task];
    if (!predicted || !labels) continue;
    const sums = new Float64Array(order.length);
    let count = 0;
    testRows.forEach((row, position) => {
      if (!Number.isFinite(labels[row])) return;
      count++;
      for (let e = 0; e < order.length; e++)
        sums[e] = (sums[e] as number) + (predicted.gateWeights[position * order.length + e] as number);
    });
    out[task] = Object.fromEntries(order.map((name, e) => [name, (sums[e] as number) / Math.max(1, count)]));
  }
  return out;
}

function rowsOf(
  samples: Partial<Record<TaskKey, PairedTaskSamples>>,
  gates: Partial<Record<TaskKey, Record<string, number>>>,
): TaskRow[] {
  const rows: TaskRow[] = [];
  for (const task of TASKS) {
    const scored = samples[task];
    if (!scored) continue;
    const { metric } = scored;
    const headline = (name: string) =>
      intervals(scored.models[name] as PairedTaskSamples['baseline'])[metric] as MetricValue;
    const experts = EXPERTS.filter((name) => Number.isFinite(headline(name).value));
    const bestExpert = experts.reduce((a, b) =>
      (metric === 'mae' ? headline(b).value < headline(a).value : headline(b).value > headline(a).value)
        ? b
        : a,
    );
    const ensemble = scored.models.ensemble as PairedTaskSamples['baseline'];
    rows.push({
      task,
      n: scored.n,
      metric,
      models: Object.fromEntries(['ensemble', ...EXPERTS].map((name) => [name, headline(name)])),
      baseline: intervals(scored.baseline)[metric] as MetricValue,
      bestExpert,
      versusBest: pairedDifference(ensemble, scored.models[bestExpert] as typeof ensemble, metric),
      versusBaseline: pairedDifference(ensemble, scored.baseline, metric),
      orientation: {
        metric: ORIENTATION[task],
        value: intervals(ensemble)[ORIENTATION[task]] as MetricValue,
      },
      gate: gates[task] ?? {},
    });
  }
  return rows;
}

function pretrainedRows(samples: Partial<Record<TaskKey, PairedTaskSamples>>): PretrainedRow[] {
  const rows: PretrainedRow[] = [];
  for (const expert of PRETRAINED) {
    for (const task of TASKS) {
      const scored = samples[task];
      if (!scored) continue;
      const { metric } = scored;
      const random = scored.models[expert] as PairedTaskSamples['baseline'];
      const pretrained = scored.models[`${expert} pretrained`] as PairedTaskSamples['baseline'];
      rows.push({
        task,
        expert,
        n: scored.n,
        metric,
        random: intervals(random)[metric] as MetricValue,
        pretrained: intervals(pretrained)[metric] as MetricValue,
        difference: pairedDifference(pretrained, random, metric),
      });
    }
  }
  return rows;
}

async function runCohort(subjects: number): Promise<CohortResult> {
  const times: StageTimes = {};
  const dir = join(WORK, `cohort-${subjects}-seed-${SEED}`);
  const source = join(dir, 'synthetic');
  const warehouse = join(dir, 'warehouse');
  process.stdout.write(`\ncohort of ${subjects} subjects (${dir})\n`);
  if (!existsSync(join(source, 'record_list.csv'))) {
    await timed(times, 'synth', () =>
      generateSynthetic({ subjects, outDir: source, seed: SEED, layout: 'v1', overwrite: true }),
    );
  }
  const ingested = await timed(
    times,
    'ingest',
    () => ingest({ source, warehouse }),
    (summary) => summary.ingested === 0,
  );
  await timed(times, 'labels', () => deriveLabels({ source, hosp: join(source, 'hosp'), warehouse }));
  const featureSets: Record<string, string> = {};
  for (const expert of [...ALONE, 'raw-leads']) {
    const summary = await timed(
      times,
      `features ${expert}`,
      () => cacheFeatures({ warehouse, expert, expertOptions: { seed: SEED }, batchSize: 32 }),
      (summary) => summary.computed === 0,
    );
    featureSets[expert] = summary.featureSetId;
  }
  // Pretraining reads the training split only; its features then cover every record like the others.
  const costs: PretrainCost[] = [];
  const pretrainedSets: string[] = [];
  for (const expert of PRETRAINED) {
    const pretrained = await timed(
      times,
      `pretrain ${expert}`,
      () => pretrainExpert({ warehouse, expert, config: { steps: PRETRAIN_STEPS(expert) }, seed: SEED }),
      (summary) => summary.reused,
    );
    if (!pretrained.reused) {
      costs.push({
        expert,
        steps: pretrained.steps,
        batchSize: PRETRAIN_DEFAULTS.batchSize,
        trainRecords: pretrained.trainRecords,
        cpuSeconds: pretrained.cpuSeconds,
        heldOutLoss: pretrained.heldOutLoss,
      });
    }
    const features = await timed(
      times,
      `features ${expert} (pretrained)`,
      () =>
        cacheFeatures({
          warehouse,
          expert,
          expertOptions: { seed: SEED, weightsPath: pretrained.checkpoint },
          batchSize: 32,
        }),
      (summary) => summary.computed === 0,
    );
    pretrainedSets.push(features.featureSetId);
  }
  const sources = await resolveFeatureSources(
    warehouse,
    ALONE.map((expert) => featureSets[expert] as string),
  );
  const { set } = await loadWarehouseSet(warehouse, sources);
  const pretrainedSet =
    pretrainedSets.length === 0
      ? undefined
      : (await loadWarehouseSet(warehouse, await resolveFeatureSources(warehouse, pretrainedSets))).set;
  if (pretrainedSet && pretrainedSet.studyIds.join() !== set.studyIds.join()) {
    throw new Error('the pretrained feature sets cover other studies than the random-init ones');
  }
  await ensureTrainingBackend();
  const rows = { train: rowsOfSplit(set, 'train'), val: rowsOfSplit(set, 'val') };
  const testRows = rowsOfSplit(set, 'test');
  const result: CohortResult = {
    subjects,
    records: ingested.listed,
    testRecords: testRows.length,
    times,
    presets: {},
    pretrained: { rows: [], costs },
  };
  for (const preset of PRESETS) {
    const predictions: Record<string, Predictions> = {};
    const epochs: Record<string, string> = {};
    let gateOrder: string[] = [];
    const lineups: Array<[string, readonly string[]]> = [
      ['ensemble', EXPERTS],
      ...(preset === 'default' ? ALONE : EXPERTS).map((e) => [e, [e]] as [string, string[]]),
      ...(preset === 'default' ? PRETRAINED.map((e) => [`${e} pretrained`, [e]] as [string, string[]]) : []),
    ];
    for (const [name, experts] of lineups) {
      const features = name.endsWith(' pretrained') ? pretrainedSet!.expertFeatures : set.expertFeatures;
      const subset: TrainingSet = {
        ...set,
        expertFeatures: Object.fromEntries(experts.map((expert) => [expert, features[expert]!])),
      };
      const fitted = await timed(times, `train ${preset} ${name}`, () =>
        fitModel(subset, resolveTrainConfig({ preset, seed: SEED }), rows),
      );
      epochs[name] = `${fitted.bestEpoch}/${fitted.curve.length}`;
      if (name === 'ensemble') gateOrder = fitted.shape.experts.map((expert) => expert.name);
      const model = toInferenceModel(fitted.shape, fitted.weights, fitted.targetScale);
      predictions[name] = infer(model, inputsOfRows(subset, testRows));
      disposeInferenceModel(model);
      disposeWeights(fitted.weights);
    }
    const samples = pairedSamplesOnSplit(set, predictions, {
      split: 'test',
      trainRows: rows.train,
      replicates: REPLICATES,
      seed: 7,
    });
    const gates = gateMeans(set, testRows, predictions.ensemble as Predictions, gateOrder);
    result.presets[preset] = { rows: rowsOf(samples, gates), epochs };
    if (preset === 'default') result.pretrained.rows = pretrainedRows(samples);
  }
  return result;
}

const format = (value: number, metric: string) =>
  Number.isFinite(value) ? value.toFixed(metric === 'mae' ? 1 : 3) : 'n/a';
const cell = ({ value, lo, hi }: MetricValue, metric: string) =>
  `${format(value, metric)} [${format(lo, metric)}, ${format(hi, metric)}]`;

function cohortMarkdown(result: CohortResult): string {
  const lines = [
    `## ${result.subjects.toLocaleString('en-US')} subjects (${result.records.toLocaleString('en-US')} ECGs, ${result.testRecords} in the test split)`,
    '',
  ];
  for (const [preset, { rows, epochs }] of Object.entries(result.presets)) {
    lines.push(
      `### preset \`${preset}\``,
      '',
      `Headline metric per task (MAE in ms or years, lower is better; macro AUROC, higher is better), 95% subject-bootstrap interval (${REPLICATES} replicates). Epoch kept / epochs run: ${Object.entries(
        epochs,
      )
        .map(([name, epoch]) => `${name} ${epoch}`)
        .join(', ')}.`,
      '',
      `| task | metric | n | ensemble | ${EXPERTS.join(' | ')} | baseline | ensemble - best expert (which) | ensemble - baseline | ensemble, orientation metric | gate weights (${EXPERTS.join(' / ')}) |`,
      `|---|---|---|---|${EXPERTS.map(() => '---').join('|')}|---|---|---|---|---|`,
    );
    for (const row of rows) {
      lines.push(
        `| ${row.task} | ${row.metric} | ${row.n} | ${cell(row.models.ensemble as MetricValue, row.metric)} | ${EXPERTS.map(
          (e) => cell(row.models[e] as MetricValue, row.metric),
        ).join(' | ')} | ${cell(row.baseline, row.metric)} | ${cell(row.versusBest, row.metric)} ${verdict(
          row.metric,
          row.versusBest,
        )} (${row.bestExpert}) | ${cell(row.versusBaseline, row.metric)} ${verdict(row.metric, row.versusBaseline)} | ${
          row.orientation.metric
        } ${cell(row.orientation.value, row.orientation.metric)} | ${EXPERTS.map((e) => (row.gate[e] ?? Number.NaN).toFixed(2)).join(' / ')} |`,
      );
    }
    lines.push('');
  }
  lines.push(...pretrainedMarkdown(result));
  lines.push(
    `Stage times (s; "reused": found done by an earlier run, only checked): ${Object.entries(result.times)
      .map(([stage, s]) => `${stage} ${s.toFixed(1)}`)
      .join('; ')}.`,
    '',
  );
  return lines.join('\n');
}

function pretrainedMarkdown(result: CohortResult): string[] {
  const { rows, costs } = result.pretrained;
  if (rows.length === 0) return [];
  const lines = [
    '### pretrained experts against their random-init selves (one-expert models, preset `default`)',
    '',
    `Each expert pretrained by \`pretrainExpert\` (masked reconstruction, ${PRETRAINED.map((e) => `${e} ${PRETRAIN_STEPS(e)}`).join(', ')} steps of ${PRETRAIN_DEFAULTS.batchSize} ECGs, seed ${SEED}) on the cohort's training split only, then its features cached from the pretrained checkpoint and a one-expert model trained exactly as for its random-init self; same test rows and ${REPLICATES} paired replicates.`,
    '',
    '| expert | task | metric | n | random-init | pretrained | pretrained - random-init |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.expert} | ${row.task} | ${row.metric} | ${row.n} | ${cell(row.random, row.metric)} | ${cell(row.pretrained, row.metric)} | ${cell(row.difference, row.metric)} ${verdict(row.metric, row.difference)} |`,
    );
  }
  lines.push('');
  for (const cost of costs) {
    const passes = cost.steps * cost.batchSize;
    lines.push(
      `- pretraining cost, ${cost.expert}: ${(cost.cpuSeconds / 60).toFixed(2)} CPU-minutes for ${cost.steps} steps x ${cost.batchSize} = ${passes.toLocaleString('en-US')} ECG passes over ${cost.trainRecords.toLocaleString('en-US')} training ECGs, so ${((cost.cpuSeconds / 60) * (1000 / passes)).toFixed(2)} CPU-minutes per 1,000 ECGs (held-out reconstruction loss ${cost.heldOutLoss.initial.toFixed(3)} -> ${cost.heldOutLoss.final.toFixed(3)})`,
    );
  }
  if (costs.length > 0) lines.push('');
  return lines;
}

function targetsMarkdown(largest: CohortResult | undefined): string {
  if (!largest) return '';
  const rows = largest.presets.default?.rows ?? [];
  const beatsBaseline = rows
    .filter((row) => verdict(row.metric, row.versusBaseline) === 'better')
    .map((r) => r.task);
  const worseThanBest = rows
    .filter((row) => verdict(row.metric, row.versusBest) === 'worse')
    .map((r) => r.task);
  const betterThanBest = rows
    .filter((row) => verdict(row.metric, row.versusBest) === 'better')
    .map((r) => r.task);
  const rr = rows.find((row) => row.task === 'rr_interval')?.models.ensemble?.value ?? Number.NaN;
  return [
    `## Targets, on the largest cohort run (${largest.subjects} subjects, preset \`default\`)`,
    '',
    `- ensemble beats the baseline (paired interval excludes 0) on all five tasks: ${beatsBaseline.length}/5 (${beatsBaseline.join(', ') || 'none'})`,
    `- RR MAE <= ${TARGET_RR_MAE_MS} ms: ${rr.toFixed(1)} ms, ${rr <= TARGET_RR_MAE_MS ? 'met' : 'missed'}`,
    `- never significantly worse than its best single expert: ${worseThanBest.length === 0 ? 'met' : `missed on ${worseThanBest.join(', ')}`}`,
    `- better than its best single expert on at least two tasks: ${betterThanBest.length} (${betterThanBest.join(', ') || 'none'})`,
    ...PRETRAINED.map((expert) => {
      const better = largest.pretrained.rows
        .filter((row) => row.expert === expert && verdict(row.metric, row.difference) === 'better')
        .map((row) => row.task);
      return `- pretrained ${expert} beats its random-init self (paired interval excludes 0) on at least three tasks: ${better.length}/5 (${better.join(', ') || 'none'}), ${better.length >= 3 ? 'met' : 'missed'}`;
    }),
    '',
  ].join('\n');
}

function commitOf(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

const started = performance.now();
const loadBefore = loadavg()[0] as number;
const results: CohortResult[] = [];
for (const subjects of COHORTS) {
  results.push(await runCohort(subjects));
  process.stdout.write(`\n${cohortMarkdown(results.at(-1) as CohortResult)}\n`);
}
const total = seconds(started);
const header = [
  '# Science benchmark: current results',
  '',
  `Produced by \`npm run bench:science\` (packages/model/bench/science.ts) on ${new Date().toISOString().slice(0, 10)}, commit ${commitOf()}.`,
  `Cohorts: ${COHORTS.join(', ')} synthetic subjects (packages/synth, seed ${SEED}, v1 layout), subject-level 70/20/10 split;`,
  `experts ${ALONE.filter((e) => e !== 'measurements').join(', ')} are random-init (no checkpoint can be downloaded here; their pretrained rows use checkpoints this run pretrains), measurements needs no weights;`,
  `every expert alone is a separately trained one-expert model, evaluated on the same test rows and replicates as the ensemble.`,
  `Machine: ${availableParallelism()} cores, load average ${loadBefore.toFixed(1)} at the start and ${(loadavg()[0] as number).toFixed(1)} at the end`,
  `(shared with other work), backend ${activeBackend()?.tfBackend ?? 'unknown'}; whole run ${(total / 60).toFixed(1)} min, end to end (synth to evaluation; a stage listed as reused in the stage times was done by an earlier run and only checked).`,
  '',
].join('\n');
const body = [header, targetsMarkdown(results.at(-1)), ...results.map(cohortMarkdown)].join('\n');
await mkdir(dirname(OUTPUT), { recursive: true });
await writeFile(OUTPUT, body);
process.stdout.write(
  `\n${targetsMarkdown(results.at(-1))}\nwrote ${OUTPUT} (${(total / 60).toFixed(1)} min)\n`,
);
