import { resolve } from 'node:path';
import { EnecgError } from '@enecg/common/errors';
import { Command, CommanderError } from 'commander';
import cliPackage from '../package.json' with { type: 'json' };
import { registerCommands } from './commands/index.ts';
import { addExamples, loadLazyHelp } from './help.ts';

const GUIDE = `
Start here:
  npm run demo                     synthetic data -> the whole pipeline -> where the report is
  enecg run --config configs/pipeline.example.yaml --local
                                   the same, from a configuration file: every key is explained in it
  enecg <command> --help           what one command does, its options and an example

Output and exit codes:
  --json prints exactly one JSON document on stdout (progress and logs go to stderr).
  Exit code 0 ok, 1 failure (the message says what to do), 2 bad usage or configuration (the message
  names the option or key; nothing was done).

Temporal:
  run --local and demo start a local dev server unless TEMPORAL_ADDRESS is set. Every other command
  connects per Temporal's environment configuration: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
  TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.

Docs: docs/cli.md (every command, with examples), docs/configuration.md (the YAML configuration).
`;

export function buildProgram(): Command {
  const program = new Command('enecg')
    .description(
      'EnECG: multi-task ECG analysis with an ensemble of frozen foundation models.\n' +
        'Every stage runs on its own (enecg <stage>); `enecg run` chains them through Temporal.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .version(cliPackage.version, '-V, --version', 'print the version of enecg')
    .exitOverride()
    .addHelpText('after', GUIDE);
  registerCommands(program);
  addExamples(program);
  loadLazyHelp(program);
  program.hook('preAction', (_program, command) => absoluteFolders(command));
  return program;
}

/** Folder options every stage records in lineage: made absolute once, here, as pipeline configs are. */
const FOLDER_OPTIONS = ['warehouse', 'source', 'hosp', 'out'];

function absoluteFolders(command: Command): void {
  for (const name of FOLDER_OPTIONS) {
    const value = command.getOptionValue(name);
    if (typeof value === 'string' && value !== '') command.setOptionValue(name, resolve(value));
  }
}

/** Runs the CLI and returns the process exit code: 0 ok, 1 failure, 2 bad usage or configuration. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    // By name: the Temporal client is loaded only by the commands that talk to Temporal.
    if (error instanceof Error && error.name === 'WorkflowFailedError') return reportFailedRun(error);
    if (error instanceof EnecgError) {
      process.stderr.write(`enecg: ${error.message}\n`);
      return error.code === 'CONFIG_INVALID' ? 2 : 1;
    }
    // An unexpected failure still ends with one line; the stack is for whoever debugs enecg itself.
    if (process.env.ENECG_DEBUG) throw error;
    process.stderr.write(
      `enecg: ${error instanceof Error ? error.message : String(error)}\n` +
        '  (an unexpected error; run again with ENECG_DEBUG=1 to see where it happened)\n',
    );
    return 1;
  }
}

/**
 * A run that failed inside Temporal: name the stage (activity) and the stage's own error, which the
 * activity carried over as an ApplicationFailure of the same kind (`CONFIG_INVALID` -> exit code 2).
 */
async function reportFailedRun(error: Error): Promise<number> {
  const { ActivityFailure, ApplicationFailure } = await import('@temporalio/client');
  let activity: string | undefined;
  let kind: string | undefined;
  let innermost: Error = error;
  for (let cause = error.cause as Error | undefined; cause; cause = cause.cause as Error | undefined) {
    if (cause instanceof ActivityFailure) activity = cause.activityType;
    if (cause instanceof ApplicationFailure && cause.type) kind ??= cause.type;
    innermost = cause;
  }
  const stage = activity ? ` in ${activity}` : '';
  process.stderr.write(`enecg: the run failed${stage}: ${innermost.message}\n`);
  return kind === 'CONFIG_INVALID' ? 2 : 1;
}
