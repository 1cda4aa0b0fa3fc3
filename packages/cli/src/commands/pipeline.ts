import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PipelineResult } from '@enecg/workflows';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { choiceArgument, positiveIntegerArgument } from '../arguments.ts';
import { formatEvaluationFile } from '../evaluation-output.ts';
import { formatSummary, printSummary } from '../output.ts';
import { createLiveLines, formatDuration } from '../progress.ts';
import { connectCliClient } from '../temporal-client.ts';
import { watchRun } from '../watch.ts';

/**
 * Where a run's log lines and its activities' live progress go (stderr); with --json only the log lines,
 * so that stdout stays one JSON document and stderr stays short.
 */
function runDisplay(options: { json?: boolean }) {
  const live = createLiveLines();
  return {
    log: (line: string) => live.log(`enecg: ${line}`),
    watch: options.json
      ? undefined
      : (client: Client, workflowId: string) => watchRun(client, workflowId, live),
  };
}

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

/** Activities that say on stderr when each starts and ends, so a worker's log shows what it works on. */
function loggedActivities<T extends object>(activities: T): T {
  const logged = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: unknown[]) => {
      const input = args[0] as {
        runId?: unknown;
        expert?: unknown;
        shard?: { index: number; count: number };
      };
      const subject = [
        typeof input?.expert === 'string' ? input.expert : undefined,
        input?.shard && input.shard.count > 1 ? `shard ${input.shard.index}/${input.shard.count}` : undefined,
        typeof input?.runId === 'string' ? `of ${input.runId}` : undefined,
      ].filter(Boolean);
      const what = [name, ...subject].join(' ');
      const started = Date.now();
      process.stderr.write(`enecg: ${what} started\n`);
      try {
        const result = await (activity as (...a: unknown[]) => Promise<unknown>)(...args);
        process.stderr.write(`enecg: ${what} finished in ${formatDuration((Date.now() - started) / 1000)}\n`);
        return result;
      } catch (error) {
        process.stderr.write(`enecg: ${what} failed: ${error instanceof Error ? error.message : error}\n`);
        throw error;
      }
    },
  ]);
  return Object.fromEntries(logged) as T;
}

/** The header file of the first record a dataset lists (record_list.csv's `path` column). */
async function firstRecord(source: string): Promise<string> {
  const [header, first] = (await readFile(join(source, 'record_list.csv'), 'utf8')).split('\n');
  const path = first?.split(',')[header?.split(',').indexOf('path') ?? -1];
  return path ? join(source, `${path}.hea`) : join(source, 'record_list.csv');
}

/** A finished run: one JSON document with --json, otherwise what each stage did and the test metrics. */
async function printRunResult(result: PipelineResult, options: { json?: boolean }): Promise<void> {
  if (options.json) {
    printSummary(resultSummary(result), options);
    return;
  }
  const { ingest, labels, model } = result;
  const reused = (hit: boolean) => (hit ? ' (reused: same inputs as an earlier run)' : '');
  const lines = [
    `Run ${result.runId} completed.`,
    formatSummary({
      ingest: `${ingest.listed} records listed: ${ingest.ingested} ingested, ${ingest.unchanged} unchanged, ${ingest.quarantined} quarantined`,
      labels: `${labels.rows} labelled studies${reused(labels.cacheHit)}`,
      features: result.features
        .map((f) => `${f.expert} ${f.computed} computed, ${f.cached} cached`)
        .join('; '),
      model: `${model.modelId}${reused(model.cacheHit)}`,
      warehouse: result.warehouse,
      report: result.report.html,
    })
      .trimEnd()
      .replace(/^/gm, '  ')
      .concat('\n'),
    await formatEvaluationFile(result.evaluationPath),
  ];
  process.stdout.write(lines.join('\n'));
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
        const { loadPipelineConfig, newPipelineRunId, runPipelineLocally, startPipeline } = await import(
          '@enecg/workflows'
        );
        const config = await loadPipelineConfig(options.config);
        const runId = options.runId ?? newPipelineRunId();
        const { log, watch } = runDisplay(options);
        if (options.local) {
          await printRunResult(
            await runPipelineLocally({ config, runId, log, watch, headless: options.headless }),
            options,
          );
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
          const watching = watch?.(client, runId);
          let outcome: 'completed' | 'ended' = 'ended';
          try {
            const result = await handle.result();
            outcome = 'completed';
            await watching?.stop(outcome);
            await printRunResult(result, options);
          } finally {
            if (outcome === 'ended') await watching?.stop(outcome);
          }
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
      const { CPU_TASK_QUEUE, createActivities, createPipelineWorker, GPU_TASK_QUEUE } = await import(
        '@enecg/workflows'
      );
      const taskQueue = queue === 'gpu' ? GPU_TASK_QUEUE : CPU_TASK_QUEUE;
      // A GPU worker without a GPU would take feature caching away from the CPU workers: refuse.
      if (queue === 'gpu') {
        const { backendLabel, requireGpuBackend } = await import('@enecg/model');
        process.stderr.write(`enecg: feature caching on ${backendLabel(await requireGpuBackend())}\n`);
      }
      const worker = await createPipelineWorker({
        taskQueue,
        activities: loggedActivities(createActivities()),
        maxConcurrentActivities: positiveIntegerArgument(options.concurrency, '--concurrency'),
      });
      process.stderr.write(`enecg: worker polling ${taskQueue}; Ctrl-C to stop\n`);
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
      const { runPipelineLocally, validatePipelineConfig } = await import('@enecg/workflows');
      const { log, watch } = runDisplay(options);
      if (!existsSync(join(source, 'record_list.csv'))) {
        log(`generating ${subjects} synthetic subjects into ${source}`);
        const { generateSynthetic } = await import('@enecg/synth');
        await generateSynthetic({ subjects, outDir: source, seed: 42, layout: 'v1' });
      }
      const config = validatePipelineConfig(
        { source, hosp: join(source, 'hosp'), warehouse: join(dir, 'warehouse') },
        'demo defaults',
      );
      const result = await runPipelineLocally({ config, log, watch, headless: options.headless });
      await printRunResult(result, options);
      if (!options.json) {
        const record = await firstRecord(source);
        process.stdout.write(
          [
            '',
            'Next:',
            `  open the report       ${result.report.html}`,
            `  query the warehouse   npx enecg sql --warehouse ${result.warehouse} "SELECT run_id, job, status FROM runs"`,
            `  predict one record    npx enecg predict --warehouse ${result.warehouse} --model ${result.model.modelId} ${record}`,
            `  trace the model       npx enecg lineage upstream --warehouse ${result.warehouse} --model ${result.model.modelId}`,
            '',
          ].join('\n'),
        );
      }
    });
}
