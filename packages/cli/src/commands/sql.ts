import { existsSync } from 'node:fs';
import { ConfigError } from '@enecg/common';
import { DEFAULT_QUERY_LIMITS, openCatalog } from '@enecg/report';
import type { Command } from 'commander';
import { integerArgument } from '../arguments.ts';

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Rows as an aligned text table, the way a DuckDB shell shows them. */
function formatRows(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...cells.map((row) => Math.min(row[index]!.length, 60))),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => value.slice(0, 60).padEnd(widths[index]!))
      .join('  ')
      .trimEnd();
  return `${[line(columns), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n')}\n(${rows.length} rows)\n`;
}

export function requireWarehouse(warehouse: string): string {
  if (!existsSync(warehouse)) throw new ConfigError(`no such folder: ${warehouse}`, 'warehouse');
  return warehouse;
}

export function registerSqlCommand(program: Command): void {
  program
    .command('sql')
    .description(
      'Run one read-only SELECT over the warehouse views (records, quarantine, labels, splits, features,\n' +
        'lineage_events, runs, lineage_edges, artifacts, metrics). Statements that write are refused; each\n' +
        'query runs within a time and a memory limit.',
    )
    .argument('<query>', 'a single SELECT statement')
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option(
      '--timeout <seconds>',
      'stop the query after this many seconds',
      String(DEFAULT_QUERY_LIMITS.timeoutMs / 1000),
    )
    .option(
      '--memory-limit <size>',
      "DuckDB's memory limit for the query, e.g. 2GB",
      DEFAULT_QUERY_LIMITS.memoryLimit,
    )
    .option('--json', 'print the rows as JSON')
    .action(
      async (
        query: string,
        options: { warehouse: string; timeout: string; memoryLimit: string; json?: boolean },
      ) => {
        const timeoutMs = integerArgument(options.timeout, '--timeout', { min: 1, max: 86_400 }) * 1000;
        const catalog = await openCatalog(requireWarehouse(options.warehouse), {
          timeoutMs,
          memoryLimit: options.memoryLimit,
        });
        try {
          for (const { view, reason } of catalog.unavailable) {
            process.stderr.write(`enecg: view ${view} is unavailable: ${reason}\n`);
          }
          const rows = await catalog.query(query);
          process.stdout.write(options.json ? `${JSON.stringify(rows, null, 2)}\n` : formatRows(rows));
        } finally {
          catalog.close();
        }
      },
    );
}
