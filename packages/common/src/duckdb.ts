import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Runs `work` on a short-lived DuckDB connection. The default in-memory database holds no file lock,
 * which is what every stage wants: it reads and writes Parquet files, never a shared database file.
 */
export async function withDuckDB<T>(
  work: (connection: DuckDBConnection) => Promise<T>,
  options: { path?: string; readOnly?: boolean; threads?: number } = {},
): Promise<T> {
  const settings: Record<string, string> = {};
  if (options.readOnly) settings.access_mode = 'READ_ONLY';
  if (options.threads !== undefined) settings.threads = String(options.threads);
  const instance = await DuckDBInstance.create(options.path ?? ':memory:', settings);
  const connection = await instance.connect();
  try {
    return await work(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Quotes a value as a SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** JSON-safe rows from a query (BIGINT and DECIMAL values come back as strings). */
export async function queryRows(
  connection: DuckDBConnection,
  sql: string,
): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJson() as Record<string, unknown>[];
}
