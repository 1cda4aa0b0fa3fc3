/**
 * Lake commit benchmark: writer processes committing small transactions to one warehouse at once, on the
 * SQLite catalog and (when Debian's PostgreSQL is installed) a PostgreSQL catalog. Prints commits per second
 * and how many commits were refused by a busy catalog and retried, against one writer alone in the same run.
 *
 *   npm run bench -w @enecg/common
 *   npx tsx bench/lake-commits.ts --writers 3 --commits 50
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresBinaries, queryRows, startScratchPostgres, withLake } from '../src/index.ts';

const WRITER = join(import.meta.dirname, '..', 'test', 'support', 'lake-writer.ts');

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = Number(index >= 0 ? process.argv[index + 1] : fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer`);
  return value;
}

function writer(warehouse: string, id: number, commits: number, catalog?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', WRITER, warehouse, String(id), String(commits)];
    if (catalog) args.push(catalog);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out).retries as number)
        : reject(new Error(`writer ${id} exited ${code}`)),
    );
  });
}

/** `writers` processes at once; the catalog is created first so that only commits are measured. */
async function measure(dir: string, label: string, writers: number, commits: number, catalog?: string) {
  const warehouse = join(dir, label);
  await writer(warehouse, 0, 1, catalog);
  const started = performance.now();
  const retries = await Promise.all(
    Array.from({ length: writers }, (_, i) => writer(warehouse, i + 1, commits, catalog)),
  );
  const seconds = (performance.now() - started) / 1000;
  const [stored] = await withLake({ warehouse, catalog, readOnly: true }, ({ connection }) =>
    queryRows(
      connection,
      'SELECT count(DISTINCT (writer, seq, payload))::INTEGER AS n FROM writes WHERE writer > 0',
    ),
  );
  if (stored!.n !== writers * commits * 2)
    throw new Error(`${label}: ${stored!.n} rows stored, not ${writers * commits * 2}`);
  return { commits: writers * commits, seconds, retries: retries.reduce((a, b) => a + b, 0) };
}

const writers = option('writers', 3);
const commits = option('commits', 50);
const dir = await mkdtemp(join(tmpdir(), 'enecg-lake-bench-'));
const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
process.stdout.write(
  `lake commits: ${writers} writer processes x ${commits} commits (2 inserts each); load ${load}\n`,
);
const catalogs: Array<{ name: string; url?: string }> = [{ name: 'sqlite' }];
const bin = postgresBinaries();
const server = bin ? await startScratchPostgres(bin) : undefined;
if (!server) process.stdout.write('PostgreSQL catalog skipped: Debian `postgresql` is not installed\n');
try {
  for (const { name } of server ? [...catalogs, { name: 'postgres' }] : catalogs) {
    const url = async (label: string) => (name === 'postgres' ? server!.createDatabase(label) : undefined);
    const alone = await measure(dir, `${name}-alone`, 1, commits, await url(`${name}_alone`));
    const together = await measure(dir, `${name}-together`, writers, commits, await url(`${name}_together`));
    const rate = (m: typeof alone) => m.commits / m.seconds;
    process.stdout.write(
      `${name.padEnd(8)} 1 writer: ${rate(alone).toFixed(1)} commits/s, ${alone.retries} retries | ` +
        `${writers} writers: ${rate(together).toFixed(1)} commits/s, ${together.retries} retried of ${together.commits} ` +
        `(${((100 * together.retries) / together.commits).toFixed(1)}%), nothing lost | ` +
        `throughput ${(rate(together) / rate(alone)).toFixed(2)}x one writer\n`,
    );
  }
} finally {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
}
