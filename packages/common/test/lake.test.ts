import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/duckdb.ts';
import { duckdbExtensionPath } from '../src/duckdb-extensions.ts';
import { ConfigError } from '../src/errors.ts';
import { openLake, resolveLakeCatalog, withLake } from '../src/lake.ts';
import { postgresBinaries, type ScratchPostgres, startScratchPostgres } from '../src/scratch-postgres.ts';

const WRITER = join(import.meta.dirname, 'support', 'lake-writer.ts');
const haveExtensions = ['ducklake', 'sqlite', 'postgres'].every((name) =>
  existsSync(duckdbExtensionPath(name as 'ducklake')),
);
if (!haveExtensions)
  console.warn('lake tests skipped: run `npx enecg setup` to install the DuckDB extensions');

/** Runs one writer process; resolves with its retry count. */
function runWriter(warehouse: string, writer: number, count: number, catalog?: string) {
  return new Promise<number>((resolve, reject) => {
    const args = ['--import', 'tsx', WRITER, warehouse, String(writer), String(count)];
    if (catalog) args.push(catalog);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out).retries as number) : reject(new Error(`writer ${writer}: ${err}`)),
    );
  });
}

async function expectEveryWriteOnce(warehouse: string, writers: number, count: number, catalog?: string) {
  const rows = await withLake({ warehouse, catalog, readOnly: true }, (lake) =>
    queryRows(
      lake.connection,
      `SELECT count(*) AS n, count(DISTINCT (writer, seq, payload)) AS distinct_rows FROM writes`,
    ),
  );
  expect(rows[0]).toEqual({ n: String(writers * count * 2), distinct_rows: String(writers * count * 2) });
}

describe.skipIf(!haveExtensions)('the warehouse lake (SQLite catalog)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enecg-lake-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('three processes committing at once lose nothing and write nothing twice', async () => {
    const warehouse = join(dir, 'concurrent');
    await Promise.all([1, 2, 3].map((writer) => runWriter(warehouse, writer, 15)));
    await expectEveryWriteOnce(warehouse, 3, 15);
  }, 120_000);

  it('a failed transaction leaves nothing behind', async () => {
    const warehouse = join(dir, 'failed');
    await withLake({ warehouse }, async (lake) => {
      await lake.transaction('create', (c) => c.run('CREATE TABLE t (x INTEGER)'));
      await expect(
        lake.transaction('half', async (c) => {
          await c.run('INSERT INTO t VALUES (1)');
          throw new Error('crash after the first insert');
        }),
      ).rejects.toThrow('crash after the first insert');
      expect(await queryRows(lake.connection, 'SELECT count(*) AS n FROM t')).toEqual([{ n: '0' }]);
    });
  });

  it('readers attach read-only and cannot write', async () => {
    const warehouse = join(dir, 'read-only');
    await withLake({ warehouse }, (lake) =>
      lake.transaction('create', (c) => c.run('CREATE TABLE t (x INTEGER)')),
    );
    const reader = await openLake({ warehouse, readOnly: true });
    try {
      await expect(reader.connection.run('INSERT INTO t VALUES (1)')).rejects.toThrow(/read.only/i);
    } finally {
      reader.close();
    }
  });

  it('a warehouse keeps the catalog it was created with', async () => {
    const warehouse = join(dir, 'pointer');
    expect((await resolveLakeCatalog(warehouse)).kind).toBe('sqlite');
    await expect(resolveLakeCatalog(warehouse, 'postgres://someone@127.0.0.1:1/x')).rejects.toThrow(
      ConfigError,
    );
    await expect(resolveLakeCatalog(join(dir, 'other'), 'mysql://x')).rejects.toThrow(/warehouse.catalog/);
  });
});

const pgBin = postgresBinaries();
if (!pgBin)
  console.warn(
    'PostgreSQL catalog tests skipped: Debian `postgresql` is not installed (.ci/run installs it)',
  );

describe.skipIf(!haveExtensions || !pgBin)('the warehouse lake (PostgreSQL catalog)', () => {
  let dir: string;
  let server: ScratchPostgres;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enecg-lake-pg-'));
    server = await startScratchPostgres(pgBin as string);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('three processes committing at once lose nothing and write nothing twice', async () => {
    const catalog = await server.createDatabase('concurrent');
    const warehouse = join(dir, 'concurrent');
    await Promise.all([1, 2, 3].map((writer) => runWriter(warehouse, writer, 15, catalog)));
    await expectEveryWriteOnce(warehouse, 3, 15);
    // The warehouse recorded its catalog: a reader that names none finds PostgreSQL.
    expect((await resolveLakeCatalog(warehouse)).kind).toBe('postgres');
  }, 120_000);
});
