import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DuckDBConnection, DuckDBInstance as DuckDBInstanceType } from '@duckdb/node-api';
import { DuckDBInstance, StatementType } from '@duckdb/node-api';
import {
  ConfigError,
  InputError,
  LAKE,
  LOAD_SETTINGS,
  lakeAttachSql,
  lakeExists,
  queryRows,
  refuseFolderLayout,
  requireDuckDBExtension,
  resolveLakeCatalog,
  sqlString,
  warehouseLayout,
  withLake,
  writeFileAtomic,
} from '@enecg/common';
import {
  LABEL_DERIVATIONS_TABLE,
  LABELS_TABLE,
  LATEST_LABEL_SET_SQL,
  refuseFolderLabels,
} from '@enecg/labels/store';

/** One documented view: what it answers, which files it needs, and how it is defined. */
interface ViewDefinition {
  name: string;
  description: string;
  /**
   * The view is only defined once this folder holds a matching file (DuckDB refuses empty globs), or once
   * the warehouse's lake holds the table.
   */
  needs: { folder: string; matches: (relativePath: string) => boolean } | { lakeTable: string };
  /** Views this one selects from. */
  dependsOn?: string[];
  body: (root: string) => string;
}

const PARQUET = (path: string) => path.endsWith('.parquet');
const JSON_FILE = (path: string) => path.endsWith('.json');

/** The columns every lineage event has; unknown facet keys stay JSON. */
const EVENT_COLUMNS = `{
    sequence: 'BIGINT',
    previousSha256: 'VARCHAR',
    eventType: 'VARCHAR',
    eventTime: 'TIMESTAMPTZ',
    run: 'STRUCT(runId VARCHAR, parentRunId VARCHAR, nominalTime TIMESTAMPTZ)',
    job: 'STRUCT(name VARCHAR)',
    inputs: 'STRUCT(name VARCHAR, path VARCHAR, sha256 VARCHAR, "rows" BIGINT, bytes BIGINT)[]',
    outputs: 'STRUCT(name VARCHAR, path VARCHAR, sha256 VARCHAR, "rows" BIGINT, bytes BIGINT)[]',
    facets: 'JSON'
  }`;

const DECISION_COLUMNS = `{
    decidedAt: 'TIMESTAMPTZ',
    runId: 'VARCHAR',
    nominalTime: 'TIMESTAMPTZ',
    champion: 'VARCHAR',
    challenger: 'VARCHAR',
    championAfter: 'VARCHAR',
    promoted: 'BOOLEAN',
    verdict: 'VARCHAR',
    rule: 'VARCHAR',
    confidence: 'DOUBLE',
    reason: 'VARCHAR',
    split: 'STRUCT(name VARCHAR, sha256 VARCHAR)',
    perTask: 'STRUCT(task VARCHAR, metric VARCHAR, champion DOUBLE, challenger DOUBLE, improvement STRUCT(value DOUBLE, lo DOUBLE, hi DOUBLE), verdict VARCHAR)[]'
  }`;

const EVALUATION_COLUMNS = `{
    modelId: 'VARCHAR', runId: 'VARCHAR', split: 'VARCHAR', evaluationKey: 'VARCHAR', replicates: 'INTEGER',
    seed: 'BIGINT', splitSha256: 'VARCHAR', tasks: 'JSON'
  }`;

const MODEL_COLUMNS = `{
    modelId: 'VARCHAR', lakeSnapshot: 'BIGINT', weightsSha256: 'VARCHAR', backend: 'VARCHAR',
    featureCaches: 'JSON', config: 'JSON', inputs: 'JSON', lineageHead: 'JSON'
  }`;

/** An evaluation as `evaluate` stores it, relative to models/. */
const EVALUATION_FILE = (path: string) => /^[^/]+\/evaluations\/[^/]+\.json$/.test(path);

const VIEWS: ViewDefinition[] = [
  {
    name: 'records',
    description: 'One row per ingested ECG record (the record catalog written by ingest).',
    needs: { lakeTable: 'records' },
    body: () => `SELECT * FROM ${LAKE}.records`,
  },
  {
    name: 'waveforms',
    description: 'The stored signals of every ingested record.',
    needs: { lakeTable: 'waveforms' },
    body: () => `SELECT * FROM ${LAKE}.waveforms`,
  },
  {
    name: 'quarantine',
    description: 'One row per rejected record, with the file, field and reason.',
    needs: { lakeTable: 'quarantine' },
    body: () => `SELECT * FROM ${LAKE}.quarantine`,
  },
  {
    name: 'labels',
    description:
      "One row per study of the latest derivation's label set: the five task labels, split, fold, label rule version and label_set (every set: lake.labels).",
    needs: { lakeTable: LABEL_DERIVATIONS_TABLE },
    body: () => `SELECT * FROM ${LAKE}.${LABELS_TABLE} WHERE label_set = ${LATEST_LABEL_SET_SQL}`,
  },
  {
    name: 'label_derivations',
    description:
      'One row per labels run, in commit order: the label set it produced or reused, its rules, configuration and source hashes.',
    needs: { lakeTable: LABEL_DERIVATIONS_TABLE },
    body: () => `SELECT * FROM ${LAKE}.${LABEL_DERIVATIONS_TABLE}`,
  },
  {
    name: 'splits',
    description: 'Studies and subjects per label version, split and fold.',
    needs: { lakeTable: LABEL_DERIVATIONS_TABLE },
    dependsOn: ['labels'],
    body: () =>
      `SELECT label_version, split, fold, count(*) AS studies, count(DISTINCT subject_id) AS subjects
  FROM labels GROUP BY ALL ORDER BY ALL`,
  },
  {
    name: 'feature_history',
    description:
      'Every stored feature row, superseded ones included: expert, cache_key, part file and is_current (the latest row of its study in its feature set).',
    needs: { folder: 'features', matches: PARQUET },
    // As readFeatures decides: parts are numbered in write order, so a study's row in the latest part of
    // its feature set supersedes its earlier rows (a recomputation after its content changed).
    body: (root) =>
      `SELECT expert, cache_key, part,
       row_number() OVER (PARTITION BY expert, cache_key, study_id ORDER BY filename DESC) = 1 AS is_current,
       * EXCLUDE (filename, expert, cache_key, part)
  FROM (SELECT regexp_extract(filename, '/features/([^/]+)/([^/]+)/', 1) AS expert,
               regexp_extract(filename, '/features/([^/]+)/([^/]+)/', 2) AS cache_key,
               regexp_extract(filename, '/features/[^/]+/[^/]+/(.+)$', 1) AS part, *
          FROM read_parquet(${sqlString(join(root, 'features', '*', '*', '**', '*.parquet'))}, union_by_name = true, filename = true))`,
  },
  {
    name: 'features',
    description:
      'The current embedding per feature set and study_id (as readFeatures reads it), with the expert and the weights/preprocessing key.',
    needs: { folder: 'features', matches: PARQUET },
    dependsOn: ['feature_history'],
    // A current row without an embedding withdraws the study: its new content was refused by the expert.
    body: () =>
      `SELECT * EXCLUDE (part, is_current) FROM feature_history WHERE is_current AND embedding IS NOT NULL`,
  },
  {
    name: 'lineage_events',
    description:
      'Every lineage event (a hash chain of append-only JSON files): sequence, previous event hash, run, job, input and output datasets, facets.',
    needs: { folder: join('lineage', 'events'), matches: JSON_FILE },
    body: (root) =>
      `SELECT sequence, previousSha256 AS previous_sha256, eventType AS event_type, eventTime AS event_time, run.runId AS run_id,
       run.parentRunId AS parent_run_id, run.nominalTime AS nominal_time, job.name AS job,
       inputs, outputs, facets, filename AS event_file
  FROM read_json(${sqlString(join(root, 'lineage', 'events', '*.json'))}, format = 'newline_delimited',
                 columns = ${EVENT_COLUMNS}, filename = true)`,
  },
  {
    name: 'runs',
    description:
      "One row per run and job (a pipeline's stages may share its run id): parent run, nominal time, start, end, status (RUNNING until it ends), git commit.",
    needs: { folder: join('lineage', 'events'), matches: JSON_FILE },
    dependsOn: ['lineage_events'],
    body: () =>
      `SELECT run_id, job, any_value(parent_run_id) AS parent_run_id,
       any_value(nominal_time) AS nominal_time, min(event_time) AS started_at,
       max(event_time) FILTER (WHERE event_type IN ('COMPLETE', 'FAIL')) AS ended_at,
       CASE WHEN bool_or(event_type = 'FAIL') THEN 'FAIL'
            WHEN bool_or(event_type = 'COMPLETE') THEN 'COMPLETE' ELSE 'RUNNING' END AS status,
       any_value(facets->'codeVersion'->>'gitCommit') FILTER (WHERE (facets->'codeVersion') IS NOT NULL) AS git_commit
  FROM lineage_events GROUP BY run_id, job`,
  },
  {
    name: 'lineage_edges',
    description: 'Every dataset a run read (direction input) or wrote (direction output), with its hash.',
    needs: { folder: join('lineage', 'events'), matches: JSON_FILE },
    dependsOn: ['lineage_events'],
    body: () =>
      `SELECT run_id, job, event_time, 'input' AS direction, d.name, d.path, d.sha256, d."rows", d.bytes
  FROM (SELECT *, unnest(inputs) AS d FROM lineage_events WHERE event_type = 'COMPLETE')
UNION ALL
SELECT run_id, job, event_time, 'output' AS direction, d.name, d.path, d.sha256, d."rows", d.bytes
  FROM (SELECT *, unnest(outputs) AS d FROM lineage_events WHERE event_type = 'COMPLETE')`,
  },
  {
    name: 'artifacts',
    description: 'Every artifact a completed run wrote: path, content hash, row count and size.',
    needs: { folder: join('lineage', 'events'), matches: JSON_FILE },
    dependsOn: ['lineage_edges'],
    body: () =>
      `SELECT run_id, job, event_time AS written_at, name, path, sha256, "rows", bytes
  FROM lineage_edges WHERE direction = 'output'`,
  },
  {
    name: 'champion_decisions',
    description:
      'Every champion/challenger decision of nightly retraining: time, champion, challenger, verdict, rule version, the split it was decided on, and per task the improvement with its interval.',
    needs: { folder: join('promotion', 'decisions'), matches: JSON_FILE },
    body: (root) =>
      `SELECT decidedAt AS decided_at, runId AS run_id, nominalTime AS nominal_time, champion, challenger,
       championAfter AS champion_after, promoted, verdict, rule, confidence, reason,
       split.name AS split, split.sha256 AS split_sha256, perTask AS per_task
  FROM read_json(${sqlString(join(root, 'promotion', 'decisions', '*.json'))}, format = 'auto',
                 columns = ${DECISION_COLUMNS})`,
  },
  {
    name: 'models',
    description:
      'One row per trained model (models/<id>/model.json): config, feature sets, weights hash, and lake_snapshot, the lake snapshot its training read (time travel: FROM lake.records AT (VERSION => lake_snapshot)).',
    needs: { folder: 'models', matches: (path) => /^[^/]+\/model\.json$/.test(path) },
    body: (root) =>
      `SELECT modelId AS model_id, lakeSnapshot AS lake_snapshot, weightsSha256 AS weights_sha256, backend,
       featureCaches AS feature_caches, config, inputs, lineageHead AS lineage_head
  FROM read_json(${sqlString(join(root, 'models', '*', 'model.json'))}, format = 'auto',
                 columns = ${MODEL_COLUMNS})`,
  },
  {
    name: 'evaluations',
    description:
      'One row per stored evaluation (models/<id>/evaluations/<split>-<key>.json, written once): model, split, key, replicates, seed, the run that computed it, and its file.',
    needs: { folder: 'models', matches: EVALUATION_FILE },
    body: (root) =>
      `SELECT modelId AS model_id, split, evaluationKey AS evaluation_key, replicates, seed, runId AS run_id,
       splitSha256 AS split_sha256, tasks, filename AS file
  FROM read_json(${sqlString(join(root, 'models', '*', 'evaluations', '*.json'))}, format = 'auto',
                 columns = ${EVALUATION_COLUMNS}, filename = true)`,
  },
  {
    name: 'metrics',
    description:
      'Metrics with bootstrap 95% intervals per stored evaluation (model, split, evaluation key), task and source (ensemble, baseline, expert:<name>).',
    needs: { folder: 'models', matches: EVALUATION_FILE },
    dependsOn: ['evaluations'],
    body: () =>
      `WITH per_task AS (
  SELECT model_id, run_id, split, evaluation_key, task, json_extract(tasks, task) AS evaluation
    FROM (SELECT *, unnest(json_keys(tasks)) AS task FROM evaluations)
), per_source AS (
  SELECT model_id, run_id, split, evaluation_key, task, 'ensemble' AS source, evaluation->'ensemble' AS metric_set FROM per_task
  UNION ALL
  SELECT model_id, run_id, split, evaluation_key, task, 'baseline', evaluation->'baseline' FROM per_task
  UNION ALL
  SELECT model_id, run_id, split, evaluation_key, task, 'expert:' || expert, json_extract(evaluation->'experts', expert)
    FROM (SELECT *, unnest(json_keys(evaluation->'experts')) AS expert FROM per_task)
)
SELECT model_id, run_id, split, evaluation_key, task, source, metric,
       CAST(json_extract(metric_set, metric)->>'value' AS DOUBLE) AS value,
       CAST(json_extract(metric_set, metric)->>'lo' AS DOUBLE) AS lo,
       CAST(json_extract(metric_set, metric)->>'hi' AS DOUBLE) AS hi
  FROM (SELECT *, unnest(json_keys(metric_set)) AS metric FROM per_source)`,
  },
];

export const DOCUMENTED_VIEWS: ReadonlyArray<{ name: string; description: string }> = VIEWS.map(
  ({ name, description }) => ({ name, description }),
);

async function folderHasMatch(folder: string, matches: (relativePath: string) => boolean): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(folder, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  return entries.some((entry) => !entry.includes('.tmp-') && matches(entry.split('\\').join('/')));
}

/** The tables of the warehouse's lake (none when it has no lake yet). */
async function lakeTables(root: string): Promise<Set<string>> {
  if (!lakeExists(root)) return new Set();
  return withLake({ warehouse: root, readOnly: true }, ({ connection }) => tablesOf(connection));
}

async function tablesOf(connection: DuckDBConnection): Promise<Set<string>> {
  const rows = await queryRows(
    connection,
    // duckdb_columns, not duckdb_tables, which reads statistics (see lakeTableExists in @enecg/common).
    `SELECT DISTINCT table_name FROM duckdb_columns() WHERE database_name = ${sqlString(LAKE)}`,
  );
  return new Set(rows.map((row) => row.table_name as string));
}

/** The views whose files (or lake tables) exist now, in dependency order. */
async function availableViews(root: string, tables: ReadonlySet<string>): Promise<ViewDefinition[]> {
  const present = await Promise.all(
    VIEWS.map((view) =>
      'lakeTable' in view.needs
        ? tables.has(view.needs.lakeTable)
        : folderHasMatch(join(root, view.needs.folder), view.needs.matches),
    ),
  );
  const chosen = new Set<string>();
  return VIEWS.filter((view, index) => {
    const ok = present[index] && (view.dependsOn ?? []).every((name) => chosen.has(name));
    if (ok) chosen.add(view.name);
    return ok;
  });
}

/** The statements of catalog.sql, one per array element (no trailing semicolons). */
function viewStatements(view: ViewDefinition, root: string): string[] {
  return [
    `CREATE OR REPLACE VIEW ${view.name} AS\n${view.body(root)}`,
    `COMMENT ON VIEW ${view.name} IS ${sqlString(view.description)}`,
  ];
}

/**
 * Rewrites `<warehouse>/catalog.sql`: a view for each documented table whose files exist now. Call it when a
 * stage ends, so that `.read catalog.sql` in any DuckDB shell sees the stage's output.
 */
export async function refreshCatalog(warehouse: string): Promise<{ path: string; views: string[] }> {
  const root = resolve(warehouse);
  const defined = await availableViews(root, await lakeTables(root));
  const views = defined.map((view) => view.name);
  const statements = defined.flatMap((view) => viewStatements(view, root));
  if (lakeExists(root)) {
    // A plain duckdb shell attaches the lake read-only (its ducklake extension installs on first use).
    statements.unshift(
      `${lakeAttachSql(root, await resolveLakeCatalog(root), true).replace('ATTACH', 'ATTACH IF NOT EXISTS')}`,
    );
  }
  const missing = VIEWS.filter((view) => !views.includes(view.name)).map((view) => view.name);
  const header = [
    '-- EnECG warehouse catalog: `.read catalog.sql` in a DuckDB shell, then query the views below.',
    "-- Regenerated when a stage ends. Tables live in the warehouse's DuckLake (attached read-only below: a reader",
    '-- sees committed snapshots only and never waits on a writer); the rest are Parquet/JSON files.',
    '-- SELECT view_name, comment FROM duckdb_views() WHERE NOT internal; lists them with their meaning.',
    ...DOCUMENTED_VIEWS.map((view) => `--   ${view.name.padEnd(15)} ${view.description}`),
    ...(missing.length > 0 ? [`-- Not defined yet (no files): ${missing.join(', ')}`] : []),
  ];
  const path = warehouseLayout(warehouse).catalogSql;
  await writeFileAtomic(path, `${header.join('\n')}\n\n${statements.map((s) => `${s};\n`).join('\n')}`);
  return { path, views };
}

/** A read-only DuckDB session over the warehouse's views. */
export interface Catalog {
  views: string[];
  /** Views whose files exist but could not be read (a corrupt file), with DuckDB's reason. */
  unavailable: Array<{ view: string; reason: string }>;
  /** Runs one SELECT; any statement that could write or change settings is refused. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): void;
}

/** Bounds on one auditor's query, so that a cross join neither runs forever nor takes the machine's memory. */
export interface QueryLimits {
  /** Wall-clock limit of one statement (default 60 s). */
  timeoutMs?: number;
  /** DuckDB's memory_limit for the session (default '2GB'); larger intermediates spill or fail. */
  memoryLimit?: string;
}

export const DEFAULT_QUERY_LIMITS: Required<QueryLimits> = { timeoutMs: 60_000, memoryLimit: '2GB' };

/**
 * Opens an in-memory DuckDB with the catalog's views (the lake attached read-only), then locks it down: file
 * access is confined to the warehouse, memory is bounded, the configuration is locked, and only single
 * SELECT statements run, each within a time limit. Readers see committed snapshots, so writers and other
 * readers never wait.
 */
export async function openCatalog(warehouse: string, limits: QueryLimits = {}): Promise<Catalog> {
  // A catalog busy with writers' commits refuses an attach for a while: wait it out (bounded, about 60 s).
  for (let attempt = 1; ; attempt++) {
    try {
      return await openCatalogOnce(warehouse, limits);
    } catch (error) {
      if (!/database is locked/i.test((error as Error).message) || attempt >= 36) throw error;
      await sleep(Math.min(2000, 20 * 2 ** (attempt - 1)) * (0.5 + Math.random()));
    }
  }
}

async function openCatalogOnce(warehouse: string, limits: QueryLimits): Promise<Catalog> {
  const timeoutMs = limits.timeoutMs ?? DEFAULT_QUERY_LIMITS.timeoutMs;
  const memoryLimit = limits.memoryLimit ?? DEFAULT_QUERY_LIMITS.memoryLimit;
  const root = resolve(warehouse);
  // Tables of the layout before the lake would silently be missing views: name the command that converts them.
  refuseFolderLayout(root);
  refuseFolderLabels(root);
  const instance: DuckDBInstanceType = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    ...LOAD_SETTINGS,
  });
  const connection = await instance.connect();
  const views: string[] = [];
  const unavailable: Catalog['unavailable'] = [];
  try {
    if (lakeExists(root)) {
      const catalog = await resolveLakeCatalog(root);
      await connection.run(`LOAD ${sqlString(requireDuckDBExtension('ducklake'))}`);
      await connection.run(`LOAD ${sqlString(requireDuckDBExtension(catalog.kind))}`);
      await connection.run(lakeAttachSql(root, catalog, true));
    }
    const tables = lakeExists(root) ? await tablesOf(connection) : new Set<string>();
    // DuckDB reads Parquet footers when it defines a view: one corrupt file must not hide the other views.
    for (const view of await availableViews(root, tables)) {
      if ((view.dependsOn ?? []).some((name) => !views.includes(name))) continue;
      try {
        for (const statement of viewStatements(view, root)) await connection.run(statement);
        views.push(view.name);
      } catch (error) {
        unavailable.push({ view: view.name, reason: (error as Error).message });
      }
    }
    await connection.run(`SET allowed_directories = [${sqlString(`${root}/`)}]`);
    await connection.run(`SET memory_limit = ${sqlString(memoryLimit)}`);
    await connection.run('SET enable_external_access = false');
    await connection.run('SET lock_configuration = true');
  } catch (error) {
    connection.closeSync();
    instance.closeSync();
    throw error;
  }
  return {
    views,
    unavailable,
    query: (sql) => runSelect(connection, root, sql, timeoutMs),
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Runs `sql` only if DuckDB's own parser says it is exactly one SELECT. */
async function runSelect(
  connection: DuckDBConnection,
  warehouse: string,
  sql: string,
  timeoutMs: number,
): Promise<Record<string, unknown>[]> {
  let extracted: Awaited<ReturnType<DuckDBConnection['extractStatements']>>;
  try {
    extracted = await connection.extractStatements(sql);
  } catch (error) {
    throw new ConfigError((error as Error).message, 'sql');
  }
  if (extracted.count !== 1) {
    throw new ConfigError(`expected exactly one SELECT statement, got ${extracted.count}`, 'sql');
  }
  let prepared: Awaited<ReturnType<typeof extracted.prepare>>;
  try {
    prepared = await extracted.prepare(0);
  } catch (error) {
    throw new ConfigError((error as Error).message, 'sql');
  }
  if (prepared.statementType !== StatementType.SELECT) {
    throw new ConfigError(
      `refused: only SELECT statements run on the catalog (got ${StatementType[prepared.statementType]})`,
      'sql',
    );
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    connection.interrupt();
  }, timeoutMs);
  try {
    const reader = await prepared.runAndReadAll();
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } catch (error) {
    if (timedOut) {
      throw new ConfigError(`the query ran longer than ${timeoutMs / 1000} s and was stopped`, 'timeout');
    }
    // The statement was valid, so a failure here is the stored data's (DuckDB names the file).
    throw new InputError((error as Error).message, { file: warehouse });
  } finally {
    clearTimeout(timer);
  }
}

/** Opens the catalog, runs one SELECT, closes it. */
export async function queryCatalog(
  warehouse: string,
  sql: string,
  limits: QueryLimits = {},
): Promise<Record<string, unknown>[]> {
  const catalog = await openCatalog(warehouse, limits);
  try {
    return await catalog.query(sql);
  } finally {
    catalog.close();
  }
}
