import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  ConfigError,
  InputError,
  LAKE,
  type Lake,
  lakeExists,
  lakeTableExists,
  queryRows,
  serializedTransaction,
  sha256File,
  sqlString,
  warehouseLayout,
  withLake,
} from '@enecg/common';

/**
 * Labels live in the warehouse's lake as two tables:
 * - `labels`: one row per (label set, study); a label set is everything one derivation produced, stored
 *   once as one data file `labels-<label_set>.parquet` (registered as written, never rewritten);
 * - `label_derivations`: one row per labels run that committed (the set it produced or reused, with the
 *   rules version, configuration and source hashes that determine it), in commit order.
 * A label set's key hashes the rules, the configuration and the source files' contents, so a re-run on the
 * same inputs reuses its set, and another configuration adds one beside it.
 */
export const LABELS_TABLE = 'labels';
export const LABEL_DERIVATIONS_TABLE = 'label_derivations';
/** Label commits check "is this set stored yet?" and then store it: they pass this gate one at a time. */
const LABELS_GATE = 'labels';

/** What a label set is and where its rows are. */
export interface LabelSet {
  labelSet: string;
  /** The set's data file in the lake (immutable). */
  path: string;
  sha256: string;
  rows: number;
  bytes: number;
}

export interface Derivation {
  runId: string;
  labelVersion: string;
  /** Null where unknown: a label table migrated from the folder layout. */
  rulesSha256: string | null;
  /** Canonical JSON of the validated configuration. */
  config: string | null;
  /** Canonical JSON of the source files' sha256 by table name. */
  sources: string | null;
}

const sqlOrNull = (value: string | null) => (value === null ? 'NULL' : sqlString(value));

/** The data file of a label set. */
export function labelSetFile(warehouse: string, labelSet: string): string {
  return join(warehouseLayout(warehouse).labels, `labels-${labelSet}.parquet`);
}

/**
 * Commits a derivation: registers the staged data file as the set's rows unless the set is stored
 * already (by an earlier run, a concurrent one or an overlapping retry), and records the derivation.
 * Returns the set and whether it was reused.
 */
export async function commitLabelSet(
  lake: Lake,
  warehouse: string,
  staged: string,
  labelSet: string,
  derivation: Derivation,
): Promise<{ reused: boolean }> {
  const target = labelSetFile(warehouse, labelSet);
  try {
    return await serializedTransaction(lake, LABELS_GATE, `labels ${labelSet}`, async (connection) => {
      await createTables(connection, staged, target);
      const reused = (await storedRows(connection, labelSet)) > 0;
      if (!reused) {
        // A retried commit finds the file renamed already; a leftover of a crashed run is replaced.
        if (existsSync(staged)) await rename(staged, target);
        await connection.run(
          `CALL ducklake_add_data_files(${sqlString(LAKE)}, ${sqlString(LABELS_TABLE)}, ${sqlString(target)})`,
        );
      }
      await connection.run(
        `INSERT INTO ${LAKE}.${LABEL_DERIVATIONS_TABLE}
         SELECT coalesce(max(sequence), 0) + 1, ${sqlString(labelSet)}, ${sqlString(derivation.runId)},
                ${sqlString(derivation.labelVersion)}, ${sqlOrNull(derivation.rulesSha256)},
                ${sqlOrNull(derivation.config)}, ${sqlOrNull(derivation.sources)}, ${reused}
           FROM ${LAKE}.${LABEL_DERIVATIONS_TABLE}`,
      );
      return { reused };
    });
  } finally {
    await rm(staged, { force: true });
  }
}

/** The label table takes the exact schema of the rules' output, so set files register as they are. */
async function createTables(connection: DuckDBConnection, staged: string, target: string): Promise<void> {
  if (!(await lakeTableExists(connection, LABELS_TABLE))) {
    const like = existsSync(staged) ? staged : target;
    await connection.run(
      `CREATE TABLE IF NOT EXISTS ${LAKE}.${LABELS_TABLE} AS SELECT * FROM read_parquet(${sqlString(like)}) LIMIT 0`,
    );
  }
  await connection.run(
    `CREATE TABLE IF NOT EXISTS ${LAKE}.${LABEL_DERIVATIONS_TABLE} (
       sequence BIGINT, label_set VARCHAR, run_id VARCHAR, label_version VARCHAR, rules_sha256 VARCHAR,
       config VARCHAR, sources VARCHAR, reused BOOLEAN)`,
  );
}

async function storedRows(connection: DuckDBConnection, labelSet: string): Promise<number> {
  const [row] = await queryRows(
    connection,
    `SELECT count(*)::INTEGER AS n FROM ${LAKE}.${LABELS_TABLE} WHERE label_set = ${sqlString(labelSet)}`,
  );
  return Number(row!.n);
}

/** SQL for the label set of the latest derivation (the one readers get when they name none). */
export const LATEST_LABEL_SET_SQL = `(SELECT label_set FROM ${LAKE}.${LABEL_DERIVATIONS_TABLE} ORDER BY sequence DESC LIMIT 1)`;

/**
 * Runs `work` on a read-only view of the lake with the label set to read: `labelSet`, or the latest
 * derivation's. Refuses a warehouse without labels, or without that set, naming what to run.
 */
export async function withLabelSet<T>(
  warehouse: string,
  labelSet: string | undefined,
  work: (connection: DuckDBConnection, labelSet: string) => Promise<T>,
): Promise<T> {
  refuseFolderLabels(warehouse);
  const noLabels = () =>
    new InputError('no label table in this warehouse: run `enecg labels` first', {
      file: warehouseLayout(warehouse).labels,
    });
  if (!lakeExists(warehouse)) throw noLabels();
  return withLake({ warehouse, readOnly: true }, (lake) =>
    // In a transaction, so that a catalog busy with a writer's commit is waited out rather than fatal.
    lake.transaction('read labels', async (connection) => {
      if (!(await lakeTableExists(connection, LABEL_DERIVATIONS_TABLE))) throw noLabels();
      const chosen =
        labelSet ?? ((await queryRows(connection, `SELECT ${LATEST_LABEL_SET_SQL} AS s`))[0]!.s as string);
      if ((await storedRows(connection, chosen)) === 0) {
        throw new InputError(`no label set ${chosen} in this warehouse`, {
          file: warehouseLayout(warehouse).labels,
          field: 'label_set',
        });
      }
      return work(connection, chosen);
    }),
  );
}

/** The label set's identity and data file, for model inputs and lineage. */
export async function describeLabelSet(warehouse: string, labelSet?: string): Promise<LabelSet> {
  const chosen = await withLabelSet(warehouse, labelSet, async (connection, set) => {
    const [row] = await queryRows(
      connection,
      `SELECT count(*)::INTEGER AS n FROM ${LAKE}.${LABELS_TABLE} WHERE label_set = ${sqlString(set)}`,
    );
    return { labelSet: set, rows: Number(row!.n) };
  });
  const path = labelSetFile(warehouse, chosen.labelSet);
  return { ...chosen, path, sha256: await sha256File(path), bytes: (await stat(path)).size };
}

/** The label table as earlier versions kept it, outside the lake. */
export function folderLabelsFile(warehouse: string): string {
  return join(warehouse, 'labels', 'labels.parquet');
}

export function refuseFolderLabels(warehouse: string): void {
  if (existsSync(folderLabelsFile(warehouse))) {
    throw new ConfigError(
      `${folderLabelsFile(warehouse)} is a loose Parquet label table (the layout before the lake); ` +
        `convert it once with \`enecg warehouse migrate --warehouse ${warehouse}\``,
      'warehouse',
    );
  }
}

/**
 * Stores a label table file (the rules' columns, as earlier versions wrote `labels/labels.parquet`) as a
 * label set keyed by the file's hash; importing the same file again reuses it.
 */
export async function importLabelFile(
  warehouse: string,
  file: string,
): Promise<{ labelSet: string; reused: boolean; rows: number }> {
  const labelSet = `file-${(await sha256File(file)).slice(0, 24)}`;
  const staged = `${labelSetFile(warehouse, labelSet)}.tmp-${process.pid}`;
  await mkdir(dirname(staged), { recursive: true });
  return withLake({ warehouse }, async (lake) => {
    const [first] = await queryRows(
      lake.connection,
      `SELECT any_value(label_version) AS v, count(*)::INTEGER AS n FROM read_parquet(${sqlString(file)})`,
    );
    await lake.connection.run(
      `COPY (SELECT *, ${sqlString(labelSet)} AS label_set FROM read_parquet(${sqlString(file)}) ORDER BY study_id)
         TO ${sqlString(staged)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const { reused } = await commitLabelSet(lake, warehouse, staged, labelSet, {
      runId: `import-${labelSet}`,
      labelVersion: String(first?.v ?? 'unknown'),
      rulesSha256: null,
      config: null,
      sources: null,
    });
    return { labelSet, reused, rows: Number(first?.n ?? 0) };
  });
}

/**
 * Converts the label table of the folder layout (`<warehouse>/labels/labels.parquet`) into a label set of
 * the lake (see importLabelFile; its rules, configuration and sources are in its lineage event), and
 * removes the old folder once committed. Nothing to do without that file.
 */
export async function migrateFolderLabels(
  warehouse: string,
): Promise<{ migrated: boolean; labelSet?: string; rows: number }> {
  const old = folderLabelsFile(warehouse);
  if (!existsSync(old)) return { migrated: false, rows: 0 };
  const { labelSet, rows } = await importLabelFile(warehouse, old);
  await rm(dirname(old), { recursive: true, force: true });
  return { migrated: true, labelSet, rows };
}
