import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { backendLabel, requireGpuBackend } from '@enecg/model';
import { generateSynthetic } from '@enecg/synth';
import {
  CPU_TASK_QUEUE,
  createActivities,
  createPipelineWorker,
  GPU_TASK_QUEUE,
  loadPipelineConfig,
  newPipelineRunId,
  type PipelineResult,
  runPipelineLocally,
  startPipeline,
  validatePipelineConfig,
} from '@enecg/workflows';
import type { Command } from 'commander';
import { choiceArgument, positiveIntegerArgument } from '../arguments.ts';
import { printSummary } from '../output.ts';
import { connectCliClient } from '../temporal-client.ts';

const log = (line: string) => process.stderr.write(`enecg: ${line}\n`);

function resultSummary(result: PipelineResult): Record<string, unknown> {
  return {
    runId: result.runId,
    warehouse: result.warehouse,
    ingested: result.ingest,
    labels: result.labels,
    features: result.features,
    model: result.model,
    evaluation: result.evaluationPath,
    reportHtml: result.report.html,
    reportMarkdown: result.report.markdown,
    // Keep it: `enecg lineage verify --expect-head` catches a rewritten or cut history against it.
    lineageHead: `${result.lineageHead.sequence}:${result.lineageHead.sha256}`,
  };
}

export function registerPipelineCommands(program: Command): void {
  program
    .command('run')
    .description(
      'Run the whole pipeline (ingest -> labels -> features -> train -> evaluate -> report) as one Temporal ' +
        'workflow. Without --local it needs running workers (`enecg worker`); with --local it runs a worker ' +
        'in this process and, when TEMPORAL_ADDRESS is unset, a local dev server',
    )
    .requiredOption(
      '--config <file>',
      'pipeline configuration (YAML); start from configs/pipeline.example.yaml (docs/configuration.md)',
    )
    .option('--local', 'run an in-process worker (and a local dev server if no server is configured)')
    .option('--run-id <id>', 'workflow id / run id (default: run-<time>-<random>)')
    .option('--no-wait', 'start the run and return its id without waiting')
    .option('--headless', 'with --local: start the dev server without its Web UI')
    .option('--json', 'print a machine-readable summary')
    .action(
      async (options: {
        config: string;
        local?: boolean;
        runId?: string;
        wait: boolean;
        headless?: boolean;
        json?: boolean;
      }) => {
        const config = await loadPipelineConfig(options.config);
        const runId = options.runId ?? newPipelineRunId();
        if (options.local) {
          const result = await runPipelineLocally({ config, runId, log, headless: options.headless });
          printSummary(resultSummary(result), options);
          return;
        }
        const client = await connectCliClient();
        try {
          const handle = await startPipeline(client, config, runId);
          if (!options.wait) {
            printSummary({ runId: handle.workflowId, status: 'started' }, options);
            return;
          }
          log(
            `run ${runId} started; waiting for it (Ctrl-C leaves it running; see \`enecg status ${runId}\`)`,
          );
          printSummary(resultSummary(await handle.result()), options);
        } finally {
          await client.connection.close();
        }
      },
    );

  program
    .command('worker')
    .description(
      'Run a worker that executes pipeline workflows and activities until interrupted. Start several, on ' +
        'several machines over shared storage, to scale out; --queue gpu takes feature caching',
    )
    .option('--queue <queue>', "'cpu' (every activity) or 'gpu' (feature caching on an accelerator)", 'cpu')
    .option('--concurrency <n>', 'activities run at once', '2')
    .action(async (options: { queue: string; concurrency: string }) => {
      const queue = choiceArgument(options.queue, '--queue', ['cpu', 'gpu']);
      const taskQueue = queue === 'gpu' ? GPU_TASK_QUEUE : CPU_TASK_QUEUE;
      // A GPU worker without a GPU would take feature caching away from the CPU workers: refuse.
      if (queue === 'gpu') log(`feature caching on ${backendLabel(await requireGpuBackend())}`);
      const worker = await createPipelineWorker({
        taskQueue,
        activities: createActivities(),
        maxConcurrentActivities: positiveIntegerArgument(options.concurrency, '--concurrency'),
      });
      log(`worker polling ${taskQueue}; Ctrl-C to stop`);
      const stop = () => worker.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await worker.run();
    });

  program
    .command('demo')
    .description(
      'The whole product on embedded defaults: synthetic MIMIC-layout data, a local Temporal dev server and ' +
        'worker, one pipeline run, and where its results are',
    )
    .option('--subjects <n>', 'synthetic subjects to generate', '120')
    .option('--dir <dir>', 'where the demo data and warehouse go', '.work/demo')
    .option('--headless', 'start the dev server without its Web UI')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { subjects: string; dir: string; headless?: boolean; json?: boolean }) => {
      const subjects = positiveIntegerArgument(options.subjects, '--subjects');
      const dir = resolve(options.dir);
      const source = join(dir, `synthetic-${subjects}`);
      if (!existsSync(join(source, 'record_list.csv'))) {
        log(`generating ${subjects} synthetic subjects into ${source}`);
        await generateSynthetic({ subjects, outDir: source, seed: 42, layout: 'v1' });
      }
      const config = validatePipelineConfig(
        { source, hosp: join(source, 'hosp'), warehouse: join(dir, 'warehouse') },
        'demo defaults',
      );
      const result = await runPipelineLocally({ config, log, headless: options.headless });
      printSummary(resultSummary(result), options);
      if (!options.json) {
        process.stdout.write(`\nOpen the report: ${result.report.html}\n`);
        process.stdout.write(
          `Query lineage:   npx enecg sql --warehouse ${result.warehouse} "SELECT * FROM runs"\n`,
        );
      }
    });
}
