import { queryRows } from './duckdb.ts';
import { LAKE, lakeExists, withLake } from './lake.ts';

/**
 * The id of the lake's newest snapshot (its latest commit), or null while the warehouse has no lake. A stage
 * records the snapshot it read, so `FROM lake.<table> AT (VERSION => id)` later shows the table as it saw it.
 */
export async function currentLakeSnapshot(warehouse: string): Promise<number | null> {
  if (!lakeExists(warehouse)) return null;
  return withLake({ warehouse, readOnly: true }, async ({ connection }) => {
    const rows = await queryRows(connection, `SELECT id FROM ${LAKE}.current_snapshot()`);
    return Number(rows[0]?.id);
  });
}
