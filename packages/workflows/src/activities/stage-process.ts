import { type ChildProcess, fork } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StageJobInput, StageJobName, StageJobResult } from './stage-jobs.ts';
import { type FromStageProcess, reviveError, type ToStageProcess } from './stage-protocol.ts';

/**
 * How long a cancelled stage gets to stop at its next batch (and record its failure in lineage) before its
 * process is killed. Cancellation reaches the activity within the worker's heartbeat throttle (see
 * worker.ts), so a cancelled stage has stopped within a few seconds.
 */
const CANCEL_GRACE_MS = 1_000;

/**
 * The runner next to this module, with the same extension: from TypeScript source it needs tsx's loader
 * (resolved here, not from the working directory); compiled to JavaScript it runs as it is.
 */
function runnerCommand(): { entry: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`./stage-runner.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  if (!fromSource) return { entry, execArgv: [] };
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { entry, execArgv: ['--import', loader] };
}

const running = new Set<ChildProcess>();
let killOnExitInstalled = false;
/** A started stage process loading the stage packages for the next job (see `takeStageProcess`). */
let spare: ChildProcess | undefined;

/** A worker that exits leaves no stage process behind (one that crashes: each notices and exits). */
function killOnExit(): void {
  if (killOnExitInstalled) return;
  killOnExitInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function forkRunner(): ChildProcess {
  const { entry, execArgv } = runnerCommand();
  const child = fork(entry, [], {
    execArgv,
    serialization: 'advanced',
    // The stage's own output goes to stderr: stdout may be a command's JSON summary.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // A spare that failed to start or to take its preload message is no longer connected, so it is not
  // taken; a process running a job reports its errors through the job's own listener.
  child.on('error', () => {});
  return child;
}

/**
 * A fresh process for one job. A stage process spends seconds loading its packages (TensorFlow.js
 * above all), so the one taken is the spare started for it earlier when there is one, and a new spare
 * starts loading for the next job. Every job still gets a process of its own: no state (a chosen backend,
 * tensors, memory) passes from one job to the next. The spare does not keep this process alive.
 */
function takeStageProcess(): ChildProcess {
  const child = spare?.connected ? spare : forkRunner();
  child.ref();
  child.channel?.ref();
  spare = forkRunner();
  spare.send({ type: 'preload' } satisfies ToStageProcess);
  spare.unref();
  spare.channel?.unref();
  return child;
}

/** Removes what a killed stage process was writing: `writeFileAtomic` temporaries carry its pid. */
async function removeTemporaries(root: string, pid: number): Promise<void> {
  const marker = `.tmp-${pid}-`;
  let names: string[];
  try {
    names = await readdir(root, { recursive: true });
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((name) => name.includes(marker))
      .map((name) => rm(join(root, name), { recursive: true, force: true })),
  );
}

export interface StageProcessOptions {
  /** Where the stage writes: temporaries of a process that had to be killed are removed from it. */
  warehouse: string;
  /** The stage's progress counts, as it reports them after each batch. */
  onProgress?: (progress: unknown) => void;
  /** Stops the stage: at its next batch, or by killing its process after a short grace. */
  signal?: AbortSignal;
}

/**
 * Runs a CPU-bound stage job in a child process of its own, so that this process's event loop stays free
 * for heartbeats and workflow tasks. The job is the very stage function the CLI calls; its errors come
 * back as the same kinds (see stage-protocol.ts). Settles once the process has exited: a cancelled or
 * failed stage is no longer writing when this rejects (with `signal.reason` when cancelled).
 */
export function runInStageProcess<K extends StageJobName>(
  job: K,
  input: StageJobInput<K>,
  options: StageProcessOptions,
): Promise<StageJobResult<K>> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  killOnExit();
  return new Promise((resolve, reject) => {
    const child = takeStageProcess();
    let outcome: FromStageProcess | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: Error | undefined;
    const sendToChild = (message: ToStageProcess) => {
      if (child.connected) child.send(message, (error) => error && child.kill('SIGKILL'));
    };
    const cancel = () => {
      sendToChild({ type: 'cancel' });
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), CANCEL_GRACE_MS);
    };
    signal?.addEventListener('abort', cancel, { once: true });
    child.on('message', (message: FromStageProcess) => {
      if (message.type === 'progress') options.onProgress?.(message.progress);
      else outcome = message;
    });
    child.on('error', (error) => {
      spawnError ??= error;
    });
    child.once('close', async (code, exitSignal) => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', cancel);
      if (outcome === undefined && child.pid !== undefined)
        await removeTemporaries(options.warehouse, child.pid);
      if (signal?.aborted) reject(signal.reason);
      else if (outcome?.type === 'done') resolve(outcome.result as StageJobResult<K>);
      else if (outcome?.type === 'failed') reject(reviveError(outcome.error));
      else
        reject(
          spawnError ??
            new Error(
              `the stage process running '${job}' ended (${exitSignal ?? `exit code ${code}`}) before it finished`,
            ),
        );
    });
    sendToChild({ type: 'run', job, input, env: { ...process.env }, cwd: process.cwd() });
  });
}
