import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  appendLineageEvent,
  appendStartEvent,
  ConfigError,
  canonicalJson,
  type DatasetRef,
  hashObject,
  InputError,
  newRunId,
  queryRows,
  sha256File,
  sqlString,
  withDuckDB,
  withLake,
} from '@enecg/common';
import { type LabelConfig, type LabelConfigInput, parseLabelConfig } from './config.ts';
import { type LabelRules, loadLabelRules } from './rules.ts';
import { type ResolvedSource, resolveSources, type SourceName } from './sources.ts';
import { type LabelStatistics, labelStatistics } from './statistics.ts';
import { commitLabelSet, describeLabelSet, labelSetFile } from './store.ts';

export interface DeriveLabelsOptions {
  /** MIMIC-IV-ECG folder: record_list.csv, machine_measurements.csv, waveform_note_links.csv (or .csv.gz). */
  source: string;
  /** MIMIC-IV hosp folder: patients, labevents, d_labitems (.csv or .csv.gz). */
  hosp: string;
  warehouse: string;
  /** Optional free-text note table (note_id, text), linked to ECGs through waveform_note_links. */
  notes?: string;
  /** Label configuration; validated here, before anything is read. Defaults apply to absent keys. */
  config?: LabelConfigInput;
  runId?: string;
  /** sha256 by file path for source files the caller has already hashed (see `labelSourceFiles`). */
  knownSha256?: Readonly<Record<string, string>>;
}

export interface SourceSummary {
  path: string;
  sha256: string;
  bytes: number;
}

export interface LabelSummary {
  runId: string;
  /** The label set this run produced (or found stored already): readers name it to read these labels. */
  labelSet: string;
  /** The set was stored by an earlier (or concurrent) run with the same inputs: nothing was added. */
  reused: boolean;
  labelVersion: string;
  rulesSha256: string;
  /** The validated configuration, defaults filled in (also in the lineage event). */
  config: LabelConfig;
  /** The label set's data file in the lake (immutable). */
  output: { path: string; sha256: string; rows: number; bytes: number };
  /** Every source file read, with its hash; `null` for an optional table that was absent. */
  sources: Record<SourceName, SourceSummary | null>;
  /** The configured potassium itemids with their names in d_labitems. */
  potassiumItems: Record<string, string>;
  statistics: LabelStatistics;
  lineageEvent: string;
}

/**
 * Derives the five task labels, splits and folds for every ECG of record_list, by running the versioned
 * rule SQL over the raw MIMIC files, and commits them to the lake's `labels` table as one label set (see
 * store.ts): the same sources, configuration and rules reuse the set they produced before.
 */
export async function deriveLabels(options: DeriveLabelsOptions): Promise<LabelSummary> {
  const config = parseLabelConfig(options.config);
  const runId = options.runId ?? newRunId();
  const rules = await loadLabelRules();
  await appendStartEvent(options.warehouse, { runId }, 'labels', { labelRulesVersion: rules.version });
  const scratch = await mkdtemp(join(tmpdir(), 'enecg-labels-'));
  try {
    const sources = await resolveSources(
      { source: options.source, hosp: options.hosp, notes: options.notes },
      scratch,
    );
    // Hashing runs beside DuckDB; the catch only keeps a failed hash from crashing the process before
    // it is awaited (and reported) below.
    const sourceHashes = hashSources(sources, options.knownSha256 ?? {});
    sourceHashes.catch(() => undefined);
    const { potassiumItems, staged, labelSet, statistics } = await withDuckDB(async (connection) => {
      const potassiumItems = await checkPotassiumItems(connection, sources.get('d_labitems')!.path, config);
      await setRuleVariables(connection, sources, config, rules);
      await runScript(connection, rules.sql);
      await refuseRejectedLines(connection, sources);
      await refuseBadKeys(connection, sources);
      const labelSet = labelSetKey(rules.sha256, config, await sourceHashes);
      // Staged beside the set's data file (a rename into place must not cross file systems).
      const staged = `${labelSetFile(options.warehouse, labelSet)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      await mkdir(dirname(staged), { recursive: true });
      await connection.run(
        `COPY (SELECT *, ${sqlString(labelSet)} AS label_set FROM labels ORDER BY study_id)
           TO ${sqlString(staged)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      return {
        potassiumItems,
        staged,
        labelSet,
        statistics: await labelStatistics(connection, config.split.folds),
      };
    });
    const sourceSummaries = await sourceHashes;
    const { reused } = await withLake({ warehouse: options.warehouse }, (lake) =>
      commitLabelSet(lake, options.warehouse, staged, labelSet, {
        runId,
        labelVersion: rules.version,
        rulesSha256: rules.sha256,
        config: canonicalJson(config),
        sources: canonicalJson(sourceContents(sourceSummaries)),
      }),
    );
    const { labelSet: _, ...output } = await describeLabelSet(options.warehouse, labelSet);
    const lineageEvent = await appendLineageEvent(options.warehouse, {
      eventType: 'COMPLETE',
      eventTime: new Date().toISOString(),
      run: { runId },
      job: { name: 'labels' },
      inputs: Object.entries(sourceSummaries)
        .filter((entry): entry is [string, SourceSummary] => entry[1] !== null)
        .map(([name, source]): DatasetRef => ({ name, ...source })),
      outputs: [{ name: 'labels', ...output }],
      facets: {
        labelRules: { version: rules.version, sha256: rules.sha256, sql: rules.sql },
        labelSet,
        reused,
        config,
        potassiumItems,
        absentSources: Object.keys(sourceSummaries).filter(
          (name) => sourceSummaries[name as SourceName] === null,
        ),
      },
    });
    return {
      runId,
      labelSet,
      reused,
      labelVersion: rules.version,
      rulesSha256: rules.sha256,
      config,
      output,
      sources: sourceSummaries,
      potassiumItems,
      statistics,
      lineageEvent,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * A label set's key: what determines its rows (the rules, the configuration and the sources' contents;
 * not where the sources lie).
 */
function labelSetKey(
  rulesSha256: string,
  config: LabelConfig,
  sources: Record<SourceName, SourceSummary | null>,
): string {
  return hashObject({ rulesSha256, config, sources: sourceContents(sources) }).slice(0, 24);
}

function sourceContents(sources: Record<SourceName, SourceSummary | null>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(sources).map(([name, source]) => [name, source?.sha256 ?? null]));
}

async function hashSources(
  sources: Map<SourceName, ResolvedSource>,
  knownSha256: Readonly<Record<string, string>>,
): Promise<Record<SourceName, SourceSummary | null>> {
  const entries = await Promise.all(
    [...sources].map(async ([name, source]) => {
      if (!source.present) return [name, null] as const;
      return [
        name,
        {
          path: source.path,
          sha256: knownSha256[source.path] ?? (await sha256File(source.path)),
          bytes: await fileSize(source.path),
        },
      ] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<SourceName, SourceSummary | null>;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** A configured itemid that d_labitems does not call potassium would silently label the wrong test. */
async function checkPotassiumItems(
  connection: DuckDBConnection,
  dLabitemsPath: string,
  config: LabelConfig,
): Promise<Record<string, string>> {
  const items = await queryRows(
    connection,
    `SELECT itemid, label FROM read_csv(${sqlString(dLabitemsPath)}, header = true, all_varchar = true)
     WHERE list_contains(${sqlList(config.potassium.itemIds.map(String))}, trim(itemid))`,
  );
  const labelById = new Map(items.map((item) => [String(item.itemid).trim(), String(item.label ?? '')]));
  for (const itemId of config.potassium.itemIds) {
    const label = labelById.get(String(itemId));
    if (label === undefined) {
      throw new ConfigError(`itemid ${itemId} is not in ${basename(dLabitemsPath)}`, 'potassium.itemIds');
    }
    if (!/potassium/i.test(label)) {
      throw new ConfigError(
        `itemid ${itemId} is "${label}" in ${basename(dLabitemsPath)}, not a potassium test`,
        'potassium.itemIds',
      );
    }
  }
  return Object.fromEntries(config.potassium.itemIds.map((id) => [String(id), labelById.get(String(id))!]));
}

function sqlList(values: readonly string[]): string {
  return `[${values.map(sqlString).join(', ')}]`;
}

async function setRuleVariables(
  connection: DuckDBConnection,
  sources: Map<SourceName, ResolvedSource>,
  config: LabelConfig,
  rules: LabelRules,
): Promise<void> {
  const double = (value: number) => `CAST(${value} AS DOUBLE)`;
  const variables: Record<string, string> = {
    rr_missing_sentinel: double(config.rrInterval.missingSentinel),
    rr_min_ms: double(config.rrInterval.minMs),
    rr_max_ms: double(config.rrInterval.maxMs),
    age_cap: `CAST(${config.age.cap} AS INTEGER)`,
    potassium_itemids: `CAST([${config.potassium.itemIds.join(', ')}] AS BIGINT[])`,
    potassium_window_hours: double(config.potassium.windowHours),
    potassium_default_lower: double(config.potassium.defaultReferenceRange.lower),
    potassium_default_upper: double(config.potassium.defaultReferenceRange.upper),
    split_seed: sqlString(String(config.split.seed)),
    split_train: double(config.split.fractions.train),
    split_val: double(config.split.fractions.val),
    fold_count: `CAST(${config.split.folds} AS INTEGER)`,
    label_version: sqlString(rules.version),
  };
  for (const [name, source] of sources) variables[`${name}_path`] = sqlString(source.path);
  for (const [name, value] of Object.entries(variables)) {
    await connection.run(`SET VARIABLE ${name} = ${value}`);
  }
}

async function runScript(connection: DuckDBConnection, sql: string): Promise<void> {
  const statements = await connection.extractStatements(sql);
  for (let i = 0; i < statements.count; i++) {
    await (await statements.prepare(i)).run();
  }
}

/**
 * The label sources are curated tables: a value that does not parse as its documented type means the
 * file is not what the rules expect, so the stage refuses it (naming file, line and column) rather than
 * dropping rows that would silently shift class balance.
 */
async function refuseRejectedLines(
  connection: DuckDBConnection,
  sources: Map<SourceName, ResolvedSource>,
): Promise<void> {
  for (const [name, source] of sources) {
    if (name === 'd_labitems') continue;
    const [first] = await queryRows(
      connection,
      `SELECT line, column_name, error_message, (SELECT count(DISTINCT line) FROM rejects_${name}) AS lines
       FROM rejects_${name} ORDER BY line, column_idx LIMIT 1`,
    );
    if (first === undefined) continue;
    const more = Number(first.lines) > 1 ? ` (${first.lines} lines rejected in all)` : '';
    throw new InputError(`${String(first.error_message)}${more}`, {
      file: source.path,
      line: Number(first.line),
      ...(first.column_name === null ? {} : { field: String(first.column_name) }),
    });
  }
}

/** study_id keys the label table and subject_id the splits: both must be present and unique per table. */
async function refuseBadKeys(
  connection: DuckDBConnection,
  sources: Map<SourceName, ResolvedSource>,
): Promise<void> {
  const checks: Array<{ table: SourceName; key: string; required: string[] }> = [
    { table: 'record_list', key: 'study_id', required: ['study_id', 'subject_id'] },
    { table: 'machine_measurements', key: 'study_id', required: ['study_id'] },
    { table: 'patients', key: 'subject_id', required: ['subject_id'] },
  ];
  for (const { table, key, required } of checks) {
    const file = sources.get(table)!.path;
    for (const column of required) {
      const [missing] = await queryRows(
        connection,
        `SELECT count(*) AS n FROM src_${table} WHERE ${column} IS NULL HAVING count(*) > 0`,
      );
      if (missing !== undefined) {
        throw new InputError(`${missing.n} rows have no ${column}`, { file, field: column });
      }
    }
    const [duplicate] = await queryRows(
      connection,
      `SELECT ${key} AS id, count(*) AS n FROM src_${table} GROUP BY ${key} HAVING count(*) > 1 ORDER BY ${key} LIMIT 1`,
    );
    if (duplicate !== undefined) {
      throw new InputError(`${key} appears ${duplicate.n} times; it must identify one row`, {
        file,
        record: String(duplicate.id),
        field: key,
      });
    }
  }
}
