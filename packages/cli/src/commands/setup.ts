import type { NativeSetupResult } from '@enecg/model';
import type { Command } from 'commander';
import { integerArgument } from '../arguments.ts';
import { printSummary } from '../output.ts';

export function registerSetupCommands(program: Command): void {
  program
    .command('setup')
    .description(
      'Install the pinned Temporal CLI and DuckDB extensions (ducklake, sqlite, postgres) and build the native ' +
        'TensorFlow backend into .tools/ (idempotent; ' +
        'seconds once cached). ENECG_NATIVE_BACKEND=0 skips the native build (the pipeline then runs on wasm)',
    )
    .option(
      '--gpu',
      'also build @tensorflow/tfjs-node-gpu against the CUDA 12 wheels (about 3.4 GB; the host needs an ' +
        'NVIDIA driver for CUDA 12.x); same as ENECG_NATIVE_BACKEND=gpu',
    )
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { gpu?: boolean; json?: boolean }) => {
      const log = (line: string) => process.stderr.write(`setup: ${line}\n`);
      const { ensureTemporalCli } = await import('@enecg/workflows/client');
      const { describeNativeSetup, nativeBackendSetting, setupNativeBackend } = await import('@enecg/model');
      const cli = await ensureTemporalCli(log);
      if (!options.json && !cli.source.startsWith('cached')) log(`Temporal CLI ready at ${cli.path}`);
      const { ensureDuckDBExtensions } = await import('@enecg/common');
      const extensions = await ensureDuckDBExtensions(log);
      const gpu = options.gpu === true || nativeBackendSetting().gpu;
      const native: NativeSetupResult[] = [await setupNativeBackend('cpu', log)];
      if (gpu) native.push(await setupNativeBackend('gpu', log));
      for (const result of native) {
        const line = describeNativeSetup(result);
        if (line) log(line);
      }
      if (options.json) {
        printSummary(
          {
            temporalCli: cli.path,
            source: cli.source,
            duckdbExtensions: extensions.dir,
            native: native.map(({ variant, status, dir, reason, seconds }) => ({
              variant,
              status,
              dir,
              reason,
              seconds,
            })),
          },
          options,
        );
      }
      // A CPU build that fails leaves the pipeline on wasm; a GPU build asked for by name must not.
      if (gpu && native[1]?.status === 'failed') process.exitCode = 1;
    });

  program
    .command('server')
    .description(
      'Run a local Temporal dev server on 127.0.0.1 in the foreground (history kept in .work/temporal/) ' +
        'until interrupted; workers and clients find it through TEMPORAL_ADDRESS',
    )
    .option('--port <port>', 'frontend gRPC port', '7233')
    .option('--headless', 'no Temporal Web UI (by default it listens on 127.0.0.1 on a free port)')
    .action(async (options: { port: string; headless?: boolean }) => {
      const { connectOrStartServer } = await import('@enecg/workflows/client');
      const server = await connectOrStartServer({
        port: integerArgument(options.port, '--port', { min: 1, max: 65535 }),
        headless: options.headless ?? false,
        log: (line) => process.stderr.write(`server: ${line}\n`),
      });
      process.stdout.write(`Temporal dev server ready: export TEMPORAL_ADDRESS=${server.address}\n`);
      if (server.webUi) process.stdout.write(`Temporal Web UI: ${server.webUi}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
    });
}
