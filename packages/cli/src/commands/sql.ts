import { existsSync } from 'node:fs';
import { ConfigError } from '@enecg/common/errors';
import type { Command } from 'commander';
import { choiceArgument, positiveIntegerArgument } from '../arguments.ts';
import { formatTable } from '../output.ts';

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** One CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = cell(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows in the chosen format; a table shows every value in full, wrapping cells wider than `maxWidth`. */
export function formatRows(
  rows: Record<string, unknown>[],
  format: 'table' | 'csv' | 'json',
  maxWidth?: number,
): string {
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  const columns = rows.length > 0 ? Object.keys(rows[0]!) : [];
  if (format === 'csv') {
    const lines = [columns, ...rows.map((row) => columns.map((column) => row[column]))];
    return lines.length > 1 || columns.length > 0
      ? `${lines.map((line) => line.map(csvField).join(',')).join('\n')}\n`
      : '';
  }
  if (rows.length === 0) return '(no rows)\n';
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  return `${formatTable(columns, cells, { maxWidth })}(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}

export function requireWarehouse(warehouse: string): string {
  if (!existsSync(warehouse)) throw new ConfigError(`no such folder: ${warehouse}`, 'warehouse');
  return warehouse;
}

const FORMATS = ['table', 'csv', 'json'] as const;

interface SqlOptions {
  warehouse: string;
  format: string;
  maxWidth?: string;
  json?: boolean;
  timeout?: string;
  memoryLimit?: string;
}

export function registerSqlCommand(program: Command): void {
  program
    .command('sql')
    .description(
      'Run one read-only SELECT over the warehouse views (records, quarantine, labels, splits, features,\n' +
        'lineage_events, runs, lineage_edges, artifacts, models, evaluations, metrics) and the lake (lake.<table>,\n' +
        'also AT (VERSION => <snapshot>)). Statements that write are refused.',
    )
    .argument('<query>', 'a single SELECT statement')
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--format <format>', "'table', 'csv' or 'json'", 'table')
    .option('--max-width <n>', 'table: wrap values wider than this many characters (default: never)')
    .option('--json', 'the same as --format json')
    .option('--timeout <seconds>', 'stop the query after this many seconds (default 60)')
    .option('--memory-limit <size>', "DuckDB's memory limit for the query, e.g. 512MB (default 2GB)")
    .action(async (query: string, options: SqlOptions) => {
      const format = options.json ? 'json' : choiceArgument(options.format, '--format', FORMATS);
      const maxWidth =
        options.maxWidth === undefined ? undefined : positiveIntegerArgument(options.maxWidth, '--max-width');
      const { openCatalog } = await import('@enecg/report/catalog');
      const timeoutMs =
        options.timeout === undefined
          ? undefined
          : positiveIntegerArgument(options.timeout, '--timeout') * 1000;
      const catalog = await openCatalog(requireWarehouse(options.warehouse), {
        timeoutMs,
        memoryLimit: options.memoryLimit,
      });
      try {
        for (const { view, reason } of catalog.unavailable) {
          process.stderr.write(`enecg: view ${view} is unavailable: ${reason}\n`);
        }
        const rows = await catalog.query(query);
        process.stdout.write(formatRows(rows, format, maxWidth));
      } finally {
        catalog.close();
      }
    });
}
