import type { LineageHead } from '@enecg/common';
import { ConfigError, IntegrityError } from '@enecg/common/errors';
import type { Command } from 'commander';
import { positiveIntegerArgument } from '../arguments.ts';
import { resolveModelArgument } from '../model-argument.ts';
import { printSummary } from '../output.ts';
import { requireWarehouse } from './sql.ts';

interface Options {
  warehouse: string;
  json?: boolean;
}

export function registerLineageCommand(program: Command): void {
  const lineage = program
    .command('lineage')
    .description('Answer lineage questions from the append-only events in <warehouse>/lineage/events');

  lineage
    .command('upstream')
    .description('Which runs, code, config, label rules and raw data produced a model')
    .requiredOption('--model <id|dir>', 'model id (folder under <warehouse>/models), or that folder')
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print the full answer as JSON')
    .action(async (options: Options & { model: string }) => {
      const { lineageUpstream } = await import('@enecg/report');
      const { modelId } = resolveModelArgument(options.model, requireWarehouse(options.warehouse));
      const answer = await lineageUpstream(options.warehouse, modelId);
      if (options.json) return printSummary({ ...answer }, options);
      const labelRules = answer.runs.flatMap((run) =>
        run.facets.labelRules ? [run.facets.labelRules.version] : [],
      );
      const commits = new Set(answer.runs.map((run) => run.facets.codeVersion?.gitCommit).filter(Boolean));
      printSummary(
        {
          model: answer.modelId,
          runs: answer.runs.map((run) => `${run.job} ${run.runId}`),
          datasets: answer.datasets.length,
          rawInputs: answer.rawInputs.map((input) => `${input.path} sha256 ${input.sha256 ?? '?'}`),
          labelRules,
          gitCommits: [...commits],
        },
        options,
      );
    });

  lineage
    .command('downstream')
    .description('Where a record is stored and every run and model that used it')
    .requiredOption('--study-id <id>', 'study id of the record')
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print the full answer as JSON')
    .action(async (options: Options & { studyId: string }) => {
      const studyId = positiveIntegerArgument(options.studyId, '--study-id');
      const { lineageDownstream } = await import('@enecg/report');
      const answer = await lineageDownstream(requireWarehouse(options.warehouse), studyId);
      if (options.json) return printSummary({ ...answer }, options);
      printSummary(
        {
          studyId: answer.studyId,
          foundIn: answer.foundIn.map((found) => `${found.folder}: ${found.path}`),
          runs: answer.runs.map((run) => `${run.job} ${run.runId}`),
          outputs: answer.datasets.length,
          models: answer.models,
        },
        options,
      );
    });

  lineage
    .command('diff')
    .description('What changed between two runs: config, code, seeds, rules, dataset hashes and metrics')
    .argument('<runA>')
    .argument('<runB>')
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print the full answer as JSON')
    .action(async (runA: string, runB: string, options: Options) => {
      const { lineageDiff } = await import('@enecg/report');
      const answer = await lineageDiff(requireWarehouse(options.warehouse), runA, runB);
      if (options.json) return printSummary({ ...answer }, options);
      const lines: Record<string, unknown> = { a: answer.a, b: answer.b };
      for (const job of answer.jobs) {
        lines[job.job] = job.onlyIn
          ? `only in run ${job.onlyIn}`
          : [...job.facets, ...job.inputs.map((c) => ({ ...c, key: `input ${c.key}` }))]
              .concat(job.outputs.map((c) => ({ ...c, key: `output ${c.key}` })))
              .map((change) => `${change.key}: ${JSON.stringify(change.a)} -> ${JSON.stringify(change.b)}`);
      }
      lines.metrics = answer.metrics
        .filter((change) => change.source === 'ensemble')
        .map((change) => `${change.task} ${change.metric}: ${change.a} -> ${change.b}`);
      printSummary(lines, options);
    });

  lineage
    .command('verify')
    .description(
      'Check the hash chain of events, every recorded file and that every data file is named; one line per problem',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option(
      '--expect-head <sequence:sha256>',
      "a chain head kept outside the warehouse (a run's workflow result): the chain must still hold it",
    )
    .option('--json', 'print the full answer as JSON')
    .action(async (options: Options & { expectHead?: string }) => {
      const warehouse = requireWarehouse(options.warehouse);
      const { formatProblem, lineageVerify } = await import('@enecg/report');
      const expectedHead =
        options.expectHead === undefined
          ? undefined
          : lineageHeadArgument(options.expectHead, '--expect-head');
      const answer = await lineageVerify(warehouse, { expectedHead });
      if (options.json) printSummary({ ...answer }, options);
      else {
        for (const problem of answer.problems) process.stdout.write(`${formatProblem(problem)}\n`);
        printSummary(
          {
            events: answer.events,
            head: answer.head ? `${answer.head.sequence}:${answer.head.sha256}` : null,
            checked: answer.checked,
            dataFiles: answer.dataFiles,
            problems: answer.problems.length,
          },
          options,
        );
      }
      if (answer.problems.length > 0) {
        throw new IntegrityError(
          `${answer.problems.length} problem(s): the warehouse does not match its lineage`,
          warehouse,
        );
      }
    });
}

/** `<sequence>:<sha256>`, as `lineage verify` prints a head and workflow results carry it. */
function lineageHeadArgument(value: string, flag: string): LineageHead {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(value);
  if (!match) throw new ConfigError(`expected <sequence>:<sha256>, got ${JSON.stringify(value)}`, flag);
  return { sequence: Number(match[1]), sha256: match[2]! };
}
