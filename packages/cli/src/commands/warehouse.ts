import type { Command } from 'commander';
import { printSummary } from '../output.ts';
import { requireWarehouse } from './sql.ts';

export function registerWarehouseCommands(program: Command): void {
  const warehouse = program
    .command('warehouse')
    .description('Maintain the warehouse (a DuckLake: SQLite or PostgreSQL catalog + Parquet data files)');
  warehouse
    .command('migrate')
    .description(
      'Convert a warehouse of the folder layout (records/, waveforms/, quarantine/ as loose Parquet parts)\n' +
        'into its lake, in one transaction; waveform parts are registered as they are, not rewritten',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { warehouse: string; json?: boolean }) => {
      const { migrateFolderWarehouse } = await import('@enecg/ingest');
      const summary = await migrateFolderWarehouse(requireWarehouse(options.warehouse));
      printSummary({ ...summary }, options);
    });
}
