import { link, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConfigError,
  FOLDER_LAYOUT_TABLES,
  hasFolderLayoutTables,
  LAKE,
  lakeTableExists,
  queryRows,
  serializedTransaction,
  sqlString,
  warehouseLayout,
  withLake,
} from '@enecg/common';
import { QUARANTINE_TABLE, RECORDS_TABLE, WAVEFORMS_TABLE } from './catalog.ts';

export interface MigrationSummary {
  warehouse: string;
  /** Whether there was anything to convert. */
  migrated: boolean;
  records: number;
  waveformParts: number;
  quarantine: number;
}

async function parquetIn(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('.parquet')).sort();
}

/**
 * Converts a warehouse of the folder layout (records/, waveforms/, quarantine/ holding loose parts) into
 * its lake, in one transaction: catalog and quarantine rows are copied, every waveform part a catalog row
 * points at is linked under the lake's data folder with its name and registered as it is (no rewrite).
 * Parts no row points at (abandoned by an interrupted run) are left out. The old folders are removed only
 * after the commit, so an interrupted migration is simply run again.
 */
export async function migrateFolderWarehouse(warehouse: string): Promise<MigrationSummary> {
  const summary: MigrationSummary = {
    warehouse,
    migrated: false,
    records: 0,
    waveformParts: 0,
    quarantine: 0,
  };
  if (!hasFolderLayoutTables(warehouse)) return summary;
  const layout = warehouseLayout(warehouse);
  const old = Object.fromEntries(
    FOLDER_LAYOUT_TABLES.map((table) => [table, join(warehouse, table)]),
  ) as Record<(typeof FOLDER_LAYOUT_TABLES)[number], string>;
  const recordParts = await parquetIn(old.records);
  const quarantineParts = await parquetIn(old.quarantine);
  const glob = (folder: string) => sqlString(join(folder, '*.parquet'));
  await withLake({ warehouse, migrating: true }, async (lake) => {
    await serializedTransaction(lake, 'ingest', 'migrate folder warehouse', async (connection) => {
      if (
        (await lakeTableExists(connection, RECORDS_TABLE)) ||
        (await lakeTableExists(connection, QUARANTINE_TABLE))
      ) {
        throw new ConfigError(
          `already has ingest tables in its lake besides the old folders; nothing was changed`,
          'warehouse',
        );
      }
      if (recordParts.length > 0) {
        await connection.run(
          `CREATE TABLE ${LAKE}.${RECORDS_TABLE} AS SELECT * FROM read_parquet(${glob(old.records)}) ORDER BY study_id, version`,
        );
        const files = await queryRows(
          connection,
          `SELECT DISTINCT waveform_file FROM ${LAKE}.${RECORDS_TABLE} ORDER BY waveform_file`,
        );
        await mkdir(layout.waveforms, { recursive: true });
        for (const [index, row] of files.entries()) {
          const name = row.waveform_file as string;
          const target = join(layout.waveforms, name);
          await link(join(old.waveforms, name), target).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'EEXIST') throw error;
          });
          if (index === 0) {
            await connection.run(
              `CREATE TABLE ${LAKE}.${WAVEFORMS_TABLE} AS SELECT * FROM read_parquet(${sqlString(target)}) LIMIT 0`,
            );
          }
          await connection.run(
            `CALL ducklake_add_data_files(${sqlString(LAKE)}, ${sqlString(WAVEFORMS_TABLE)}, ${sqlString(target)})`,
          );
        }
        summary.waveformParts = files.length;
        summary.records = Number(
          (await queryRows(connection, `SELECT count(*) AS n FROM ${LAKE}.${RECORDS_TABLE}`))[0]!.n,
        );
      }
      if (quarantineParts.length > 0) {
        await connection.run(
          `CREATE TABLE ${LAKE}.${QUARANTINE_TABLE} AS SELECT * FROM read_parquet(${glob(old.quarantine)}) ORDER BY source_path, problem`,
        );
        summary.quarantine = Number(
          (await queryRows(connection, `SELECT count(*) AS n FROM ${LAKE}.${QUARANTINE_TABLE}`))[0]!.n,
        );
      }
    });
  });
  for (const folder of Object.values(old)) await rm(folder, { recursive: true, force: true });
  summary.migrated = true;
  return summary;
}
