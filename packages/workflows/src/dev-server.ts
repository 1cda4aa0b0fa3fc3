import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError, workDir } from '@enecg/common';
import { Connection } from '@temporalio/client';
import { configuredAddress, resolveTemporalTarget } from './connection.ts';
import { ensureTemporalCli } from './temporal-cli.ts';

const run = promisify(execFile);

export interface TemporalServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  /** The Temporal Web UI of a dev server started here (http://127.0.0.1:<port>), or null. */
  webUi: string | null;
  /** Ends the server when this process started it; a configured server is left running. */
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** SQLite file that keeps workflow history across restarts; default `.work/temporal/dev.sqlite`. */
  dbFile?: string;
  /** Frontend port; default a free port. */
  port?: number;
  /** No Web UI (tests, servers nobody looks at); default: the Web UI on 127.0.0.1 on a free port. */
  headless?: boolean;
  /** How long to wait for the server to report healthy; a busy 2-core machine needs far more than 5 s. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1, with its Web UI on 127.0.0.1 on a free port unless
 * headless, and waits until it is healthy. `stop()` ends only the process started here.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<TemporalServer> {
  const log = options.log ?? (() => {});
  const cli = await ensureTemporalCli(log);
  const stateDir = join(workDir(), 'temporal');
  mkdirSync(stateDir, { recursive: true });
  const dbFile = options.dbFile ?? join(stateDir, 'dev.sqlite');
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const uiPort = options.headless ? null : await freePort();
  const webUi = uiPort === null ? null : `http://127.0.0.1:${uiPort}`;
  const logFile = join(stateDir, `server-${port}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(
    cli.path,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      ...(uiPort === null
        ? ['--headless']
        : ['--ui-ip', '127.0.0.1', '--ui-port', String(uiPort), '--ui-disable-news-fetch']),
      '--db-filename',
      dbFile,
    ],
    { stdio: ['ignore', out, out] },
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (error) => {
      log(`cannot run ${cli.path}: ${error.message}`);
      resolve(-1);
    });
  });
  log(`starting the Temporal dev server on ${address} (log: ${logFile})`);
  try {
    await waitForHealth(cli.path, address, options.startTimeoutMs ?? 90_000, exited);
  } catch (error) {
    await terminate(child, exited);
    throw error;
  }
  if (webUi !== null) log(`Temporal Web UI: ${webUi}`);
  return { address, webUi, stop: () => terminate(child, exited) };
}

/**
 * The server the pipeline talks to: the one Temporal's environment configuration names (TEMPORAL_ADDRESS
 * or a profile; checked for reachability), otherwise a dev server started here.
 */
export async function connectOrStartServer(options: DevServerOptions = {}): Promise<TemporalServer> {
  const address = configuredAddress();
  if (!address) return startDevServer(options);
  await assertReachable(address);
  return { address, webUi: null, stop: async () => {} };
}

export async function assertReachable(address: string, timeoutMs = 10_000): Promise<void> {
  try {
    const { connectionOptions } = resolveTemporalTarget(address);
    const connection = await Connection.connect({
      address,
      tls: connectionOptions.tls,
      apiKey: typeof connectionOptions.apiKey === 'string' ? connectionOptions.apiKey : undefined,
      metadata: connectionOptions.metadata,
      connectTimeout: timeoutMs,
    });
    await connection.workflowService.getSystemInfo({});
    await connection.close();
  } catch (error) {
    throw new EnvironmentError(
      `cannot reach a Temporal server at ${address} (${error instanceof Error ? error.message : String(error)})`,
      'start one (for example `temporal server start-dev`), fix TEMPORAL_ADDRESS, or unset it to let enecg start a local dev server',
    );
  }
}

async function waitForHealth(
  cli: string,
  address: string,
  timeoutMs: number,
  exited: Promise<number | null>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new EnvironmentError(
        `the Temporal dev server exited with code ${exitCode} before becoming healthy`,
        `read its log under ${join(workDir(), 'temporal')}`,
      );
    }
    try {
      await run(cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5_000 });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new EnvironmentError(
    `the Temporal dev server at ${address} was not healthy after ${timeoutMs / 1000} s`,
    `read its log under ${join(workDir(), 'temporal')}; on a very busy machine retry`,
  );
}

async function terminate(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
