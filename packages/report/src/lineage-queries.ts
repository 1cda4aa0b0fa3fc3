import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetRef, LineageFacets } from '@enecg/common';
import { ConfigError, InputError, sha256, sqlString, warehouseLayout, withDuckDB } from '@enecg/common';
import type { EvaluationReport } from '@enecg/model';
import {
  completed,
  datasetLocation,
  normalizeDatasetPath,
  pathContains,
  readLineageEvents,
  runFamily,
  type StoredEvent,
  sameData,
} from './lineage-store.ts';

/** A run as lineage answers show it: who ran, when, with which code, config and rules. */
export interface RunSummary {
  runId: string;
  job: string;
  eventTime: string;
  parentRunId?: string;
  nominalTime?: string;
  facets: LineageFacets;
}

export interface DatasetSummary extends DatasetRef {
  /** The run that wrote it, or null for raw input that no recorded run produced. */
  producedBy: string | null;
}

export interface UpstreamAnswer {
  modelId: string;
  runs: RunSummary[];
  datasets: DatasetSummary[];
  /** Datasets no recorded run produced: the raw data the model ultimately comes from. */
  rawInputs: DatasetRef[];
}

function summarizeRun(event: StoredEvent): RunSummary {
  const summary: RunSummary = {
    runId: event.run.runId,
    job: event.job.name,
    eventTime: event.eventTime,
    facets: event.facets,
  };
  if (event.run.parentRunId !== undefined) summary.parentRunId = event.run.parentRunId;
  if (event.run.nominalTime !== undefined) summary.nominalTime = event.run.nominalTime;
  return summary;
}

/** Which raw records, label rules, code and weights produced a model: walks producers back to raw data. */
export async function lineageUpstream(warehouse: string, modelId: string): Promise<UpstreamAnswer> {
  const events = completed(await readLineageEvents(warehouse));
  const modelPath = `models/${modelId}`;
  const seeds = events.filter((event) =>
    event.outputs.some((output) => pathContains(modelPath, normalizeDatasetPath(warehouse, output.path))),
  );
  if (seeds.length === 0) {
    throw new ConfigError(`no completed lineage event wrote ${modelPath} in ${warehouse}`, 'model');
  }
  const visitedEvents = new Set<StoredEvent>(seeds);
  const datasets = new Map<string, DatasetSummary>();
  const queue = seeds.flatMap((event) =>
    event.inputs.map((input) => ({ wanted: input, readAt: event.eventTime })),
  );
  while (queue.length > 0) {
    const { wanted, readAt } = queue.shift()!;
    // The data a run read came from the last run that wrote it before the read (others may rewrite it later).
    const producer = events
      .filter(
        (event) =>
          event.eventTime <= readAt && event.outputs.some((output) => sameData(warehouse, output, wanted)),
      )
      .at(-1);
    const key = `${normalizeDatasetPath(warehouse, wanted.path)}@${wanted.sha256 ?? ''}@${producer?.run.runId ?? ''}`;
    if (datasets.has(key)) continue;
    datasets.set(key, { ...wanted, producedBy: producer?.run.runId ?? null });
    if (producer && !visitedEvents.has(producer)) {
      visitedEvents.add(producer);
      queue.push(...producer.inputs.map((input) => ({ wanted: input, readAt: producer.eventTime })));
    }
  }
  const all = [...datasets.values()];
  return {
    modelId,
    runs: [...visitedEvents].sort((a, b) => a.eventTime.localeCompare(b.eventTime)).map(summarizeRun),
    datasets: all,
    rawInputs: all.filter((dataset) => dataset.producedBy === null).map(({ producedBy: _, ...ref }) => ref),
  };
}

/**
 * Warehouse folders whose Parquet rows carry `study_id` (relative to the warehouse; the lake's tables keep
 * their data files under data/main/<table>), and whether to show the matching rows.
 */
const STUDY_FOLDERS: ReadonlyArray<{ folder: string; location: string; showRows: boolean }> = [
  { folder: 'records', location: join('data', 'main', 'records'), showRows: true },
  { folder: 'quarantine', location: join('data', 'main', 'quarantine'), showRows: true },
  { folder: 'labels', location: join('data', 'main', 'labels'), showRows: true },
  { folder: 'waveforms', location: join('data', 'main', 'waveforms'), showRows: false },
  { folder: 'features', location: 'features', showRows: false },
];

export interface DownstreamAnswer {
  studyId: number;
  /** Warehouse files holding the study (with the runs that wrote them), and raw files named after it. */
  foundIn: Array<{ folder: string; path: string; writtenBy: string[]; rows?: Record<string, unknown>[] }>;
  /** Runs that read the study (directly or through a dataset holding it), in time order. */
  runs: RunSummary[];
  /** What those runs wrote. */
  datasets: DatasetSummary[];
  models: string[];
}

async function hasParquet(folder: string): Promise<boolean> {
  try {
    return (await readdir(folder, { recursive: true })).some((name) => name.endsWith('.parquet'));
  } catch {
    return false;
  }
}

/** A raw path names the study when a segment is `s<id>`, `<id>` or `<id>.<ext>` (MIMIC-IV-ECG layout). */
function pathNamesStudy(path: string, studyId: number): boolean {
  const id = String(studyId);
  return path.split('/').some((part) => part === id || part === `s${id}` || part.startsWith(`${id}.`));
}

/** What used a record: the warehouse files that hold it and every run (and model) downstream of them. */
export async function lineageDownstream(warehouse: string, studyId: number): Promise<DownstreamAnswer> {
  if (!Number.isSafeInteger(studyId)) throw new ConfigError(`not an integer: ${studyId}`, 'study-id');
  const layout = warehouseLayout(warehouse);
  const foundIn: DownstreamAnswer['foundIn'] = [];
  await withDuckDB(async (connection) => {
    for (const { folder, location: relativeLocation, showRows } of STUDY_FOLDERS) {
      const location = join(layout.root, relativeLocation);
      if (!(await hasParquet(location))) continue;
      const source = `read_parquet(${sqlString(join(location, '**', '*.parquet'))}, union_by_name = true, filename = true)`;
      let rows: Record<string, unknown>[];
      try {
        const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
        if (!described.getRowObjectsJson().some((column) => column.column_name === 'study_id')) continue;
        const columns = showRows ? '* EXCLUDE (filename), filename' : 'DISTINCT filename';
        const reader = await connection.runAndReadAll(
          `SELECT ${columns} FROM ${source} WHERE study_id = ${studyId} ORDER BY filename`,
        );
        rows = reader.getRowObjectsJson() as Record<string, unknown>[];
      } catch (error) {
        // DuckDB's message names the unreadable file.
        throw new InputError((error as Error).message, { file: location, record: String(studyId) });
      }
      const byFile = new Map<string, Record<string, unknown>[]>();
      for (const row of rows) {
        const { filename, ...rest } = row;
        const path = normalizeDatasetPath(warehouse, String(filename));
        if (!byFile.has(path)) byFile.set(path, []);
        if (showRows) byFile.get(path)!.push(rest);
      }
      for (const [path, rows] of byFile) {
        foundIn.push(showRows ? { folder, path, writtenBy: [], rows } : { folder, path, writtenBy: [] });
      }
    }
  });
  const events = completed(await readLineageEvents(warehouse));
  for (const event of events) {
    for (const input of event.inputs) {
      const path = normalizeDatasetPath(warehouse, input.path);
      if (pathNamesStudy(path, studyId) && !foundIn.some((found) => found.path === path)) {
        foundIn.push({ folder: 'raw', path, writtenBy: [] });
      }
    }
  }
  for (const found of foundIn) {
    const file: DatasetRef = { name: found.folder, path: found.path };
    found.writtenBy = events
      .filter((event) => event.outputs.some((output) => sameData(warehouse, output, file)))
      .map((event) => event.run.runId);
  }
  const reached: DatasetRef[] = foundIn.map((found) => ({ name: found.folder, path: found.path }));
  const consumers = new Set<StoredEvent>();
  const outputs = new Map<string, DatasetSummary>();
  for (let index = 0; index < reached.length; index++) {
    const dataset = reached[index]!;
    for (const event of events) {
      if (consumers.has(event) || !event.inputs.some((input) => sameData(warehouse, input, dataset)))
        continue;
      consumers.add(event);
      for (const output of event.outputs) {
        const key = `${normalizeDatasetPath(warehouse, output.path)}@${output.sha256 ?? ''}`;
        if (outputs.has(key)) continue;
        outputs.set(key, { ...output, producedBy: event.run.runId });
        reached.push(output);
      }
    }
  }
  const datasets = [...outputs.values()];
  const models = new Set<string>();
  for (const dataset of datasets) {
    const match = /^models\/([^/]+)/.exec(normalizeDatasetPath(warehouse, dataset.path));
    if (match) models.add(match[1]!);
  }
  return {
    studyId,
    foundIn,
    runs: [...consumers].sort((a, b) => a.eventTime.localeCompare(b.eventTime)).map(summarizeRun),
    datasets,
    models: [...models].sort(),
  };
}

export interface ValueChange {
  key: string;
  a: unknown;
  b: unknown;
}

export interface JobDiff {
  job: string;
  /** Set when only one of the runs ran this job. */
  onlyIn?: 'a' | 'b';
  facets: ValueChange[];
  inputs: ValueChange[];
  outputs: ValueChange[];
}

export interface MetricChange {
  task: string;
  source: string;
  metric: string;
  a: number | null;
  b: number | null;
  delta: number | null;
}

export interface RunDiff {
  a: string;
  b: string;
  jobs: JobDiff[];
  metrics: MetricChange[];
}

/** Long strings (label SQL text) are shown by length and start, their hash facet already tells them apart. */
function shown(value: unknown): unknown {
  return typeof value === 'string' && value.length > 120
    ? `${value.slice(0, 60)}… (${value.length} chars)`
    : value;
}

function flatten(value: unknown, prefix: string, into: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into);
  } else {
    into.set(prefix, Array.isArray(value) ? JSON.stringify(value) : value);
  }
  return into;
}

function changes(a: Map<string, unknown>, b: Map<string, unknown>): ValueChange[] {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((key) => a.get(key) !== b.get(key))
    .map((key) => ({ key, a: shown(a.get(key) ?? null), b: shown(b.get(key) ?? null) }));
}

/** A dataset name's content: its hash, or for a name with several parts (shards) a hash over theirs. */
function datasetsByName(datasets: DatasetRef[]): Map<string, unknown> {
  const byName = new Map<string, DatasetRef[]>();
  for (const dataset of datasets) byName.set(dataset.name, [...(byName.get(dataset.name) ?? []), dataset]);
  const map = new Map<string, unknown>();
  for (const [name, parts] of byName) {
    const hashes = parts.map((part) => part.sha256 ?? '').sort();
    map.set(`${name}.sha256`, parts.length === 1 ? (parts[0]!.sha256 ?? null) : sha256(hashes.join('\n')));
    const rows = parts.every((part) => part.rows !== undefined)
      ? parts.reduce((sum, part) => sum + part.rows!, 0)
      : null;
    map.set(`${name}.rows`, rows);
  }
  return map;
}

/** What one job did within a run's family: its datasets over all its completed events (shards). */
interface JobRecord {
  inputs: DatasetRef[];
  outputs: DatasetRef[];
  /** Merged over all its events: a run may state its config when it starts and its counts when it ends. */
  facets: LineageFacets;
}

function jobsOf(events: StoredEvent[], runId: string): Map<string, JobRecord> {
  const family = runFamily(events, runId);
  const jobs = new Map<string, JobRecord>();
  for (const event of events) {
    if (!family.has(event.run.runId)) continue;
    const job = jobs.get(event.job.name) ?? { inputs: [], outputs: [], facets: {} };
    job.facets = { ...job.facets, ...event.facets };
    if (event.eventType === 'COMPLETE') {
      job.inputs.push(...event.inputs);
      job.outputs.push(...event.outputs);
    }
    jobs.set(event.job.name, job);
  }
  return jobs;
}

/** Checks the fields reports rely on; the full contract is `EvaluationReport` of @enecg/model. */
function parseEvaluation(text: string, file: string): EvaluationReport {
  let value: Partial<EvaluationReport>;
  try {
    value = JSON.parse(text) as Partial<EvaluationReport>;
  } catch (error) {
    throw new InputError(`not valid JSON (${(error as Error).message})`, { file });
  }
  for (const field of ['modelId', 'runId', 'split'] as const) {
    if (typeof value[field] !== 'string') throw new InputError('missing or not a string', { file, field });
  }
  for (const field of ['experts', 'trainingCurve'] as const) {
    if (!Array.isArray(value[field])) throw new InputError('missing or not an array', { file, field });
  }
  if (typeof value.tasks !== 'object' || value.tasks === null) {
    throw new InputError('missing or not an object', { file, field: 'tasks' });
  }
  return value as EvaluationReport;
}

/** A stored evaluation and the file that holds it. */
export interface RunEvaluation {
  report: EvaluationReport;
  /** Absolute path of the evaluation file. */
  path: string;
}

/**
 * The test-split evaluations the runs computed or reused, as their `evaluate` events name them (so an
 * evaluation another run computed first, and reused here, counts): per model the one its latest event
 * names, ordered by model id.
 */
export async function readEvaluations(
  warehouse: string,
  events: StoredEvent[],
  runIds: Set<string>,
): Promise<RunEvaluation[]> {
  const paths = completed(events)
    .filter((event) => event.job.name === 'evaluate' && runIds.has(event.run.runId))
    .flatMap((event) => event.outputs.map((output) => datasetLocation(warehouse, output.path)));
  const byModel = new Map<string, RunEvaluation>();
  for (const path of new Set(paths.reverse())) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const reason = `a lineage event names this evaluation, but it cannot be read (${(error as Error).message})`;
      throw new InputError(reason, { file: path });
    }
    const report = parseEvaluation(text, path);
    if (report.split === 'test' && !byModel.has(report.modelId))
      byModel.set(report.modelId, { report, path });
  }
  return [...byModel.values()].sort((a, b) => a.report.modelId.localeCompare(b.report.modelId));
}

function ensembleMetrics(evaluations: RunEvaluation[]): Map<string, number> {
  const metrics = new Map<string, number>();
  for (const { report } of evaluations) {
    for (const [task, evaluation] of Object.entries(report.tasks)) {
      if (!evaluation) continue;
      const sources: Array<[string, Record<string, { value: number }>]> = [
        ['ensemble', evaluation.ensemble],
        ['baseline', evaluation.baseline],
        ...Object.entries(evaluation.experts).map(([expert, set]): [string, typeof set] => [
          `expert:${expert}`,
          set,
        ]),
      ];
      for (const [source, set] of sources) {
        for (const [metric, value] of Object.entries(set))
          metrics.set(`${task}\t${source}\t${metric}`, value.value);
      }
    }
  }
  return metrics;
}

/** What changed between two runs: per job, facets (config, code, seeds, rules) and dataset hashes; metrics. */
export async function lineageDiff(warehouse: string, runA: string, runB: string): Promise<RunDiff> {
  const events = await readLineageEvents(warehouse);
  for (const [key, runId] of [
    ['run-a', runA],
    ['run-b', runB],
  ] as const) {
    if (!events.some((event) => event.run.runId === runId)) {
      throw new ConfigError(`no lineage event has run id ${runId}`, key);
    }
  }
  const jobsA = jobsOf(events, runA);
  const jobsB = jobsOf(events, runB);
  const jobs: JobDiff[] = [];
  for (const job of [...new Set([...jobsA.keys(), ...jobsB.keys()])].sort()) {
    const a = jobsA.get(job);
    const b = jobsB.get(job);
    if (!a || !b) {
      jobs.push({ job, onlyIn: a ? 'a' : 'b', facets: [], inputs: [], outputs: [] });
      continue;
    }
    const diff: JobDiff = {
      job,
      facets: changes(flatten(a.facets, '', new Map()), flatten(b.facets, '', new Map())),
      inputs: changes(datasetsByName(a.inputs), datasetsByName(b.inputs)),
      outputs: changes(datasetsByName(a.outputs), datasetsByName(b.outputs)),
    };
    if (diff.facets.length + diff.inputs.length + diff.outputs.length > 0) jobs.push(diff);
  }
  const metricsA = ensembleMetrics(await readEvaluations(warehouse, events, runFamily(events, runA)));
  const metricsB = ensembleMetrics(await readEvaluations(warehouse, events, runFamily(events, runB)));
  const metrics: MetricChange[] = [...new Set([...metricsA.keys(), ...metricsB.keys()])]
    .sort()
    .flatMap((key) => {
      const [task, source, metric] = key.split('\t') as [string, string, string];
      const a = metricsA.get(key) ?? null;
      const b = metricsB.get(key) ?? null;
      if (a === b) return [];
      return [{ task, source, metric, a, b, delta: a !== null && b !== null ? b - a : null }];
    });
  return { a: runA, b: runB, jobs, metrics };
}
