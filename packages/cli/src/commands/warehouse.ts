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
      'Convert a warehouse of the folder layout (records/, waveforms/, quarantine/ as loose Parquet parts,\n' +
        'labels/labels.parquet) into its lake: the ingest tables in one transaction (waveform parts registered\n' +
        'as they are, not rewritten), then the label table as one label set',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: { warehouse: string; json?: boolean }) => {
      const { migrateFolderWarehouse } = await import('@enecg/ingest');
      const { migrateFolderLabels } = await import('@enecg/labels');
      const warehouse = requireWarehouse(options.warehouse);
      const summary = await migrateFolderWarehouse(warehouse);
      const labels = await migrateFolderLabels(warehouse);
      printSummary({ ...summary, migrated: summary.migrated || labels.migrated, labels }, options);
    });
}
