import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError } from './errors.ts';
import { toolsDir } from './local-dirs.ts';

const run = promisify(execFile);

/**
 * DuckDB cannot INSTALL extensions here (they come from a vendor host), but PyPI ships each one as a wheel
 * built for one engine version. These must match the pinned `@duckdb/node-api` (1.4.4-r.4, DuckDB's LTS line).
 */
export const DUCKDB_EXTENSION_VERSION = '1.4.4.20260205';
const ENGINE_VERSION = 'v1.4.4';
const PLATFORM = 'linux_amd64';

/** sha256 of each pinned wheel (manylinux_2_28_x86_64); pip refuses anything else. */
const WHEEL_SHA256: Record<DuckDBExtension, string> = {
  ducklake: 'b4442fc2e33822e26d2c5df6c73d8551d0d684790b129e20f34cd9ae91c2d72f',
  sqlite: 'a2f73b3207eef95095b8511063baa35cdbf40307b33822ae1bf8ec0c0ae77173',
  postgres: '66eb172befd14de5929fb47ea1d5ea29866d95f9a7aa4f9006d4a8c4ecc2882f',
};

export type DuckDBExtension = 'ducklake' | 'sqlite' | 'postgres';
/** The file each wheel holds (the catalog scanners keep their historical names). */
const EXTENSION_FILE: Record<DuckDBExtension, string> = {
  ducklake: 'ducklake',
  sqlite: 'sqlite_scanner',
  postgres: 'postgres_scanner',
};
const EXTENSIONS = Object.keys(WHEEL_SHA256) as DuckDBExtension[];

function extensionsRoot(): string {
  return join(toolsDir(), `duckdb-extensions-${DUCKDB_EXTENSION_VERSION}`);
}

/** Where an installed extension lives; ENECG_DUCKDB_EXTENSIONS overrides the folder (for machines without pip). */
export function duckdbExtensionPath(name: DuckDBExtension): string {
  const dir =
    process.env.ENECG_DUCKDB_EXTENSIONS ??
    join(extensionsRoot(), 'duckdb_ext', 'extensions', ENGINE_VERSION, PLATFORM);
  return join(dir, `${EXTENSION_FILE[name]}.duckdb_extension`);
}

/** The path of an extension, or an EnvironmentError that says how to install it. */
export function requireDuckDBExtension(name: DuckDBExtension): string {
  const path = duckdbExtensionPath(name);
  if (!existsSync(path)) {
    throw new EnvironmentError(
      `the DuckDB extension ${name} is not installed (looked for ${path})`,
      'run `npx enecg setup` (or `bash scripts/setup.sh`), which installs the pinned extension wheels into .tools/',
    );
  }
  return path;
}

/**
 * Installs the pinned extension wheels into `.tools/` once (pip, hashes required, no dependencies), unpacked
 * into a staging folder and renamed into place so that concurrent callers never see half an install.
 */
export async function ensureDuckDBExtensions(
  log: (line: string) => void = () => {},
): Promise<{ dir: string; source: 'cached' | 'installed' }> {
  const root = extensionsRoot();
  if (EXTENSIONS.every((name) => existsSync(duckdbExtensionPath(name))))
    return { dir: root, source: 'cached' };
  // An incomplete folder (an interrupted install of an older layout) is replaced, never patched.
  await rm(root, { recursive: true, force: true });
  log(`installing DuckDB extensions ${EXTENSIONS.join(', ')} ${DUCKDB_EXTENSION_VERSION} into ${root}`);
  const staging = `${root}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const requirements = join(staging, 'requirements.txt');
    await writeFile(
      requirements,
      EXTENSIONS.map(
        (name) => `duckdb-ext-${name}==${DUCKDB_EXTENSION_VERSION} --hash=sha256:${WHEEL_SHA256[name]}\n`,
      ).join(''),
    );
    await run(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--require-hashes',
        '--only-binary=:all:',
        '--platform=manylinux_2_28_x86_64',
        '--target',
        staging,
        '-r',
        requirements,
      ],
      { env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' }, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: Error) => {
      throw new EnvironmentError(
        `could not install the DuckDB extension wheels (${error.message.split('\n')[0]})`,
        'make python3 with pip and access to the Python package registry available, or set ' +
          'ENECG_DUCKDB_EXTENSIONS to a folder holding ducklake/sqlite/postgres .duckdb_extension files',
      );
    });
    await rename(staging, root).catch(async (error: NodeJS.ErrnoException) => {
      if (!existsSync(root)) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { dir: root, source: 'installed' };
}
