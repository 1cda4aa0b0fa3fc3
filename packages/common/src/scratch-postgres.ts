import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throw-away PostgreSQL server on 127.0.0.1 (Debian's `postgresql` binaries, `initdb -A trust` in a scratch
 * folder), for tests and benchmarks of the PostgreSQL lake catalog. Runs as the `postgres` user when we are
 * root, since PostgreSQL refuses to run as root.
 */
export interface ScratchPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** A fresh, empty database on this server. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The folder of `initdb`/`pg_ctl`/`postgres`, or undefined when PostgreSQL is not installed. */
export function postgresBinaries(): string | undefined {
  const candidates = ['/usr/lib/postgresql'];
  for (const root of candidates) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const bin = join(root, version, 'bin');
      if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startScratchPostgres(bin: string): Promise<ScratchPostgres> {
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'enecg-pg-'));
  const dataDir = join(dir, 'data');
  const asUser = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]] : [join(bin, command), args];
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  const [initdb, initArgs] = asUser('initdb', ['-A', 'trust', '-U', 'postgres', '-D', dataDir, '--no-sync']);
  await run(initdb, initArgs);
  const port = await freePort();
  const [postgres, serverArgs] = asUser('postgres', [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'max_connections=200',
  ]);
  const server: ChildProcess = spawn(postgres, serverArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const psql = (sql: string, database = 'postgres') =>
    run(join(bin, 'psql'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      database,
      '-c',
      sql,
    ]);
  const stop = async () => {
    if (server.exitCode === null) {
      // runuser does not pass signals on to the server: pg_ctl, as the server's user, stops it.
      const exited = new Promise((resolve) => server.once('exit', resolve));
      const [pgCtl, stopArgs] = asUser('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w']);
      await run(pgCtl, stopArgs).catch(() => server.kill('SIGKILL'));
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await psql('SELECT 1');
      break;
    } catch (error) {
      if (server.exitCode !== null || attempt > 100) {
        await stop();
        throw new Error(`PostgreSQL did not start: ${log || (error as Error).message}`);
      }
      await sleep(100);
    }
  }
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    url: url('postgres'),
    async createDatabase(name) {
      await psql(`CREATE DATABASE "${name}"`);
      return url(name);
    },
    stop,
  };
}
