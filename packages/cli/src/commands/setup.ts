import { ensureDuckDBExtensions } from '@enecg/common';
import { connectOrStartServer, ensureTemporalCli } from '@enecg/workflows';
import type { Command } from 'commander';
import { integerArgument } from '../arguments.ts';
import { printSummary } from '../output.ts';

export function registerSetupCommands(program: Command): void {
  program
    .command('setup')
    .description(
      'Install the pinned Temporal CLI and DuckDB extensions (ducklake, sqlite, postgres) into .tools/ ' +
        '(idempotent; cached after the first run)',
    )
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { json?: boolean }) => {
      const log = (line: string) => process.stderr.write(`setup: ${line}\n`);
      const cli = await ensureTemporalCli(log);
      const extensions = await ensureDuckDBExtensions(log);
      if (options.json) {
        printSummary(
          { temporalCli: cli.path, source: cli.source, duckdbExtensions: extensions.dir },
          options,
        );
      } else if (!cli.source.startsWith('cached'))
        process.stderr.write(`setup: Temporal CLI ready at ${cli.path}\n`);
    });

  program
    .command('server')
    .description(
      'Run a local Temporal dev server on 127.0.0.1 in the foreground (history kept in .work/temporal/) ' +
        'until interrupted; workers and clients find it through TEMPORAL_ADDRESS',
    )
    .option('--port <port>', 'frontend gRPC port', '7233')
    .action(async (options: { port: string }) => {
      const server = await connectOrStartServer({
        port: integerArgument(options.port, '--port', { min: 1, max: 65535 }),
        log: (line) => process.stderr.write(`server: ${line}\n`),
      });
      process.stdout.write(`Temporal dev server ready: export TEMPORAL_ADDRESS=${server.address}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
    });
}
