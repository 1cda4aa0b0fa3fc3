import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { lock as lockFile } from 'proper-lockfile';
import { sqlString } from './duckdb.ts';
import { requireDuckDBExtension } from './duckdb-extensions.ts';
import { ConfigError } from './errors.ts';
import { writeFileAtomic } from './files.ts';

/**
 * The warehouse is a DuckLake: a SQL catalog (a SQLite file inside the warehouse by default, PostgreSQL
 * when several machines share the warehouse) plus Parquet data files under `<warehouse>/data/`. Every stage
 * commits its output in one transaction, so readers never see half a run and a failed run leaves nothing.
 */
export const LAKE = 'lake';

/** The file that records which catalog a warehouse uses, so every process (and machine) opens the same one. */
const CATALOG_POINTER = 'lake.json';
const SQLITE_CATALOG = 'catalog.sqlite';
/** The lock that makes processes commit to a SQLite catalog one at a time (see `commitLock`). */
const SQLITE_COMMIT_LOCK = 'catalog.lock';
const DATA_FOLDER = 'data';

export interface LakeOptions {
  warehouse: string;
  /**
   * `postgres://user@host:port/db` (or `postgresql://`) keeps the catalog in PostgreSQL; it is recorded in
   * `<warehouse>/lake.json` on first use. Absent: what lake.json says, else `<warehouse>/catalog.sqlite`.
   */
  catalog?: string;
  readOnly?: boolean;
  threads?: number;
  /** DuckDB's memory_limit, e.g. '2GB'. */
  memoryLimit?: string;
  /** Where retried commits are reported (stderr by default). */
  log?: (line: string) => void;
  /** Open a warehouse that still has folder-layout tables (only the migration does). */
  migrating?: boolean;
}

export type LakeCatalog = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connection: string };

export interface Lake {
  connection: DuckDBConnection;
  catalog: LakeCatalog;
  /** Commits that failed on a busy catalog and were tried again (since this lake was opened). */
  readonly retries: number;
  /**
   * Runs `work` in one transaction and commits it. A commit refused because the catalog is busy (SQLite's
   * `database is locked`, a DuckLake write conflict, a PostgreSQL serialization failure) is rolled back,
   * logged and retried from the start with bounded, jittered exponential backoff; `work` must therefore only
   * write through the connection (or be safe to repeat).
   */
  transaction<T>(label: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T>;
  close(): void;
}

/** `ATTACH` target for the warehouse's catalog. */
export function lakeAttachTarget(catalog: LakeCatalog): string {
  return catalog.kind === 'sqlite'
    ? `ducklake:sqlite:${catalog.path}`
    : `ducklake:postgres:${catalog.connection}`;
}

/**
 * How long SQLite itself waits for another process's lock before reporting the catalog busy (the
 * retries below then take over). SQLite's own wait needs no new attachment, so it is the cheap first line.
 */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/** The SQL a plain `duckdb` shell runs to see the warehouse (after loading the ducklake extension). */
export function lakeAttachSql(warehouse: string, catalog: LakeCatalog, readOnly: boolean): string {
  const options = [`DATA_PATH ${sqlString(`${join(resolve(warehouse), DATA_FOLDER)}/`)}`];
  if (readOnly) options.push('READ_ONLY');
  if (catalog.kind === 'sqlite') {
    options.push(`META_BUSY_TIMEOUT ${SQLITE_BUSY_TIMEOUT_MS}`);
    // Write-ahead logging: readers never block a committing writer, nor a writer them. In rollback-journal
    // mode a reader's shared lock kept writers' commits (and other readers' attaches) refused for tens of
    // seconds under several concurrent ingests. The mode is stored in the catalog file, so writers set it
    // (converting a catalog made before) and read-only readers simply follow it. WAL needs the catalog on a
    // local file system; several machines share a warehouse through a PostgreSQL catalog instead.
    if (!readOnly) options.push(`META_JOURNAL_MODE 'WAL'`);
  }
  return `ATTACH ${sqlString(lakeAttachTarget(catalog))} AS ${LAKE} (${options.join(', ')})`;
}

function parseCatalog(warehouse: string, catalog: string | undefined): LakeCatalog {
  if (catalog === undefined || catalog === 'sqlite') {
    return { kind: 'sqlite', path: join(resolve(warehouse), SQLITE_CATALOG) };
  }
  if (/^postgres(ql)?:\/\//.test(catalog)) return { kind: 'postgres', connection: catalog };
  throw new ConfigError(
    `${JSON.stringify(catalog)} is neither "sqlite" nor a postgres://user@host:port/database URL`,
    'warehouse.catalog',
  );
}

/**
 * Which catalog a warehouse uses: the one it recorded when it was created; `requested` (from configuration
 * or ENECG_WAREHOUSE_CATALOG) must agree with it, and is recorded when the warehouse has none yet.
 */
export async function resolveLakeCatalog(warehouse: string, requested?: string): Promise<LakeCatalog> {
  const pointer = join(warehouse, CATALOG_POINTER);
  const wanted = requested ?? process.env.ENECG_WAREHOUSE_CATALOG;
  let recorded: string | undefined;
  if (existsSync(pointer)) {
    recorded = (JSON.parse(await readFile(pointer, 'utf8')) as { catalog: string }).catalog;
  }
  if (recorded !== undefined && wanted !== undefined && recorded !== wanted) {
    throw new ConfigError(
      `${warehouse} keeps its catalog in ${redact(recorded)}, not ${redact(wanted)} (see ${pointer})`,
      'warehouse.catalog',
    );
  }
  const chosen = recorded ?? wanted ?? 'sqlite';
  const catalog = parseCatalog(warehouse, chosen);
  if (recorded === undefined) {
    await writeFileAtomic(pointer, `${JSON.stringify({ catalog: chosen }, null, 2)}\n`);
  }
  return catalog;
}

function redact(catalog: string): string {
  return catalog.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/**
 * About 60 s of backoff for a commit and for an attach: on a loaded machine (CI measured it with three test
 * suites at once) a commit burst of several writers kept a SQLite catalog busy for more than 10 s.
 */
const MAX_COMMIT_ATTEMPTS = 36;
const MAX_ATTACH_ATTEMPTS = 36;
const BUSY_CATALOG = /database is locked|SQLITE_BUSY|conflict|could not serialize|deadlock detected/i;

/**
 * DuckDB re-verifies an extension's signature on every LOAD (about 1 s of CPU for these ~50 MB files, per
 * instance). The files were checked against pinned sha256 hashes when setup installed them, and only paths
 * from `.tools/` (or ENECG_DUCKDB_EXTENSIONS) are ever loaded, so that check is skipped.
 */
export const LOAD_SETTINGS = { allow_unsigned_extensions: 'true' } as const;

/** Folders in which warehouses before the lake kept their tables as loose Parquet parts. */
export const FOLDER_LAYOUT_TABLES = ['records', 'waveforms', 'quarantine'] as const;

/** Whether the warehouse still holds tables in the folder layout of earlier versions. */
export function hasFolderLayoutTables(warehouse: string): boolean {
  return FOLDER_LAYOUT_TABLES.some((table) => {
    try {
      return readdirSync(join(warehouse, table)).some((name) => name.endsWith('.parquet'));
    } catch {
      return false;
    }
  });
}

/** Refuses a warehouse in the folder layout of earlier versions, naming the command that converts it. */
export function refuseFolderLayout(warehouse: string): void {
  if (hasFolderLayoutTables(warehouse)) {
    throw new ConfigError(
      `${warehouse} keeps ${FOLDER_LAYOUT_TABLES.join('/')} as loose Parquet folders (the layout before ` +
        `the lake); convert it once with \`enecg warehouse migrate --warehouse ${warehouse}\``,
      'warehouse',
    );
  }
}

/** Opens the warehouse's lake (creating the catalog on first use). Close it when done. */
export async function openLake(options: LakeOptions): Promise<Lake> {
  if (!options.migrating) refuseFolderLayout(options.warehouse);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const catalog = await resolveLakeCatalog(options.warehouse, options.catalog);
  await mkdir(join(options.warehouse, DATA_FOLDER), { recursive: true });
  const settings: Record<string, string> = {
    // Extensions load by path only: nothing is downloaded, nothing autoloaded from the network.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    ...LOAD_SETTINGS,
  };
  if (options.threads !== undefined) settings.threads = String(options.threads);
  if (options.memoryLimit !== undefined) settings.memory_limit = options.memoryLimit;
  let session = await exclusively(lakeAttachTarget(catalog), () => attach(options, catalog, settings, log));
  const close = () => {
    session.connection.closeSync();
    session.instance.closeSync();
  };
  let retries = 0;
  return {
    get connection() {
      return session.connection;
    },
    catalog,
    get retries() {
      return retries;
    },
    transaction(label, work) {
      return exclusively(lakeAttachTarget(catalog), () => runTransaction(label, work));
    },
    close,
  };

  async function runTransaction<T>(label: string, work: (connection: DuckDBConnection) => Promise<T>) {
    for (let attempt = 1; ; attempt++) {
      const { connection } = session;
      const release = await commitLock(options.warehouse, catalog, label, log);
      try {
        // BEGIN reads the catalog's latest snapshot, so a busy catalog can refuse it too.
        await connection.run('BEGIN TRANSACTION');
        const result = await work(connection);
        await connection.run('COMMIT');
        return result;
      } catch (error) {
        await connection.run('ROLLBACK').catch(() => {});
        const message = error instanceof Error ? error.message : String(error);
        if (!BUSY_CATALOG.test(message) || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
        retries++;
        const delay = backoff(attempt);
        log(
          `lake: ${label}: commit attempt ${attempt} refused (${message.split('\n')[0]}); ` +
            `retrying in ${delay} ms`,
        );
        // A refused commit can leave the catalog connection inside an aborted transaction that DuckDB's
        // ROLLBACK does not reach: retry on a fresh attachment.
        close();
        await release();
        await sleep(delay);
        session = await attach(options, catalog, settings, log);
      } finally {
        await release();
      }
    }
  }
}

/**
 * How long a commit waits for another process's commit to a SQLite catalog before giving up (a commit
 * takes milliseconds to seconds), and after how long an unrefreshed lock (its holder died) is taken over.
 */
const COMMIT_LOCK_WAIT_MS = 300_000;
const COMMIT_LOCK_STALE_MS = 30_000;

/**
 * Processes commit to a SQLite catalog one at a time, under a lock file in the warehouse. DuckLake 1.4's
 * own conflict handling is not enough there: with writers racing on one SQLite file, a commit retried on
 * a stale snapshot was counted by two runs, and a rollback after a refused commit aborted the process
 * (both seen in the concurrent-ingest test). Serialized, every transaction begins on the latest snapshot
 * and nothing conflicts; readers are not held up (WAL). A PostgreSQL catalog resolves conflicts itself.
 * Within one process, `exclusively` already serializes; the lock orders processes.
 */
async function commitLock(
  warehouse: string,
  catalog: LakeCatalog,
  label: string,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  if (catalog.kind !== 'sqlite') return async () => {};
  const path = join(resolve(warehouse), SQLITE_COMMIT_LOCK);
  const started = Date.now();
  let nextReport = started + 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const unlock = await lockFile(path, {
        realpath: false,
        stale: COMMIT_LOCK_STALE_MS,
        // A lock lost to a takeover (this process stalled past `stale`) is reported, not thrown from a timer:
        // the catalog's own checks still stand behind the commit.
        onCompromised: (error) => log(`lake: ${label}: commit lock lost (${error.message})`),
      });
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await unlock().catch(() => {});
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      const now = Date.now();
      if (now - started > COMMIT_LOCK_WAIT_MS) {
        throw new Error(
          `lake: ${label}: another process has held the commit lock ${path} for over ${COMMIT_LOCK_WAIT_MS / 1000} s`,
        );
      }
      if (now >= nextReport) {
        log(`lake: ${label}: waiting ${Math.round((now - started) / 1000)} s for another process's commit`);
        nextReport = now + 10_000;
      }
      await sleep(Math.min(250, 5 * attempt) * (0.5 + Math.random()));
    }
  }
}

/**
 * One transaction at a time per catalog within this process: an open DuckLake transaction holds the SQLite
 * catalog's write lock, and two of them interleaved on one event loop can wait on each other. Processes
 * still commit concurrently, through the catalog's own locking and the retries above.
 */
const catalogQueues = new Map<string, Promise<unknown>>();

async function exclusively<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = catalogQueues.get(key) ?? Promise.resolve();
  const result = previous.then(work, work);
  const tail = result.catch(() => {});
  catalogQueues.set(key, tail);
  try {
    return await result;
  } finally {
    if (catalogQueues.get(key) === tail) catalogQueues.delete(key);
  }
}

/**
 * Loads the extensions and attaches the catalog. Creating a new catalog races between processes that open
 * a fresh warehouse at once; the loser retries on a new instance, since a failed attach can leave the
 * catalog connection holding its lock.
 */
async function attach(
  options: LakeOptions,
  catalog: LakeCatalog,
  settings: Record<string, string>,
  log: (line: string) => void,
): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const sql = lakeAttachSql(options.warehouse, catalog, options.readOnly ?? false);
  for (let attempt = 1; ; attempt++) {
    const instance = await DuckDBInstance.create(':memory:', settings);
    const connection = await instance.connect();
    try {
      await connection.run(`LOAD ${sqlString(requireDuckDBExtension('ducklake'))}`);
      await connection.run(`LOAD ${sqlString(requireDuckDBExtension(catalog.kind))}`);
      await connection.run(sql);
      await connection.run(`USE ${LAKE}`);
      return { instance, connection };
    } catch (error) {
      connection.closeSync();
      instance.closeSync();
      const message = error instanceof Error ? error.message : String(error);
      const busy = BUSY_CATALOG.test(message) || /already exists|UNIQUE constraint/i.test(message);
      if (!busy || attempt >= MAX_ATTACH_ATTEMPTS) throw error;
      const delay = backoff(attempt);
      log(`lake: attach attempt ${attempt} refused (${message.split('\n')[0]}); retrying in ${delay} ms`);
      await sleep(delay);
    }
  }
}

/** 20 ms doubling to at most 2 s, times a random factor in [0.5, 1.5) so that writers do not retry in step. */
function backoff(attempt: number): number {
  return Math.round(Math.min(2000, 20 * 2 ** (attempt - 1)) * (0.5 + Math.random()));
}

/** Whether the warehouse has a lake yet (readers of a fresh warehouse then see empty tables, and create nothing). */
export function lakeExists(warehouse: string): boolean {
  return existsSync(join(warehouse, CATALOG_POINTER));
}

/**
 * Whether the lake holds `table` (in the snapshot the connection sees). Asked of `duckdb_columns()`, not
 * `duckdb_tables()`: the latter reads every table's statistics, and DuckLake 1.4 aborted the process there
 * (an internal "GetValueInternal on a value that is NULL") while other processes committed to the catalog.
 */
export async function lakeTableExists(connection: DuckDBConnection, table: string): Promise<boolean> {
  const reader = await connection.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM duckdb_columns() WHERE database_name = ${sqlString(LAKE)} AND table_name = ${sqlString(table)}`,
  );
  return (reader.getRowObjectsJson()[0] as { n: number }).n > 0;
}

/**
 * Makes concurrent transactions that name the same `gate` commit one after the other: each one updates
 * the gate's row, and DuckLake refuses the second of two commits that changed the same row, which
 * `transaction` then retries on a fresh snapshot. A writer that checks "is this study stored yet?" and
 * then inserts it therefore never inserts it twice, whatever other processes do meanwhile.
 */
export async function serializeOn(connection: DuckDBConnection, gate: string): Promise<void> {
  await connection.run(
    `UPDATE ${LAKE}.commit_gates SET generation = generation + 1 WHERE gate = ${sqlString(gate)}`,
  );
}

/** Gates known to exist, per lake: a gate is never dropped, so each is looked up once per session. */
const knownGates = new WeakMap<Lake, Set<string>>();

/** Creates the gate (once; a race that creates it twice is harmless, its rows are updated together). */
async function ensureGate(lake: Lake, gate: string): Promise<void> {
  const known = knownGates.get(lake) ?? new Set<string>();
  knownGates.set(lake, known);
  if (known.has(gate)) return;
  await createGate(lake, gate);
  known.add(gate);
}

async function createGate(lake: Lake, gate: string): Promise<void> {
  if (await lakeTableExists(lake.connection, 'commit_gates')) {
    const reader = await lake.connection.runAndReadAll(
      `SELECT count(*)::INTEGER AS n FROM ${LAKE}.commit_gates WHERE gate = ${sqlString(gate)}`,
    );
    if ((reader.getRowObjectsJson()[0] as { n: number }).n > 0) return;
  }
  await lake.transaction(`create gate ${gate}`, async (connection) => {
    await connection.run(`CREATE TABLE IF NOT EXISTS ${LAKE}.commit_gates (gate VARCHAR, generation BIGINT)`);
    await connection.run(
      `INSERT INTO ${LAKE}.commit_gates SELECT ${sqlString(gate)}, 0
       WHERE NOT EXISTS (SELECT 1 FROM ${LAKE}.commit_gates WHERE gate = ${sqlString(gate)})`,
    );
  });
}

/** `transaction`, serialized with every other transaction on the same gate (see serializeOn). */
export async function serializedTransaction<T>(
  lake: Lake,
  gate: string,
  label: string,
  work: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  await ensureGate(lake, gate);
  return lake.transaction(label, async (connection) => {
    await serializeOn(connection, gate);
    return work(connection);
  });
}

/** Runs `work` on the warehouse's lake and closes it afterwards. */
export async function withLake<T>(options: LakeOptions, work: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(options);
  try {
    return await work(lake);
  } finally {
    lake.close();
  }
}
