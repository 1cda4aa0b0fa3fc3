/**
 * The entry point of a stage process: runs one stage job (stage-jobs.ts) for an activity, sends its
 * progress and its result or error back over IPC, and exits.
 */
import { type FromStageProcess, serializeError, type ToStageProcess } from './stage-protocol.ts';

const cancellation = new AbortController();

function send(message: FromStageProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, undefined, {}, () => resolve());
  });
}

/** The activity's environment, which may have changed since this process was started as a spare. */
function adopt(env: Record<string, string | undefined>, cwd: string): void {
  for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
  Object.assign(process.env, env);
  process.chdir(cwd);
}

async function run({ job, input, env, cwd }: ToStageProcess & { type: 'run' }): Promise<void> {
  try {
    adopt(env, cwd);
    const { stageJobs } = await import('./stage-jobs.ts');
    const work = stageJobs[job as keyof typeof stageJobs] as (
      input: unknown,
      report: (progress: unknown) => void,
    ) => Promise<unknown>;
    if (work === undefined) throw new Error(`unknown stage job '${job}'`);
    // A stage checks in here after each batch: the cancelled one stops there, writing no further part.
    const report = (progress: unknown) => {
      cancellation.signal.throwIfAborted();
      process.send?.({ type: 'progress', progress } satisfies FromStageProcess);
    };
    await send({ type: 'done', result: await work(input, report) });
  } catch (error) {
    await send({ type: 'failed', error: serializeError(error) });
  }
  process.exit(0);
}

// The activity decides when this process stops: Ctrl-C in a terminal reaches the whole process group,
// and the worker turns it into a cancellation (or its shutdown) that reaches us as a message.
process.on('SIGINT', () => {});
// An orphan (its worker died) must not go on writing beside the retry of its activity elsewhere.
process.on('disconnect', () => process.exit(1));
process.on('message', (message: ToStageProcess) => {
  if (message.type === 'cancel') cancellation.abort();
  else if (message.type === 'preload')
    // A failure to load shows when the job imports its package, as that job's error.
    import('./stage-jobs.ts').then((jobs) => jobs.preloadStagePackages()).catch(() => {});
  else void run(message);
});
