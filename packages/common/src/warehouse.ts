import { join } from 'node:path';

/**
 * The warehouse is a plain folder of Parquet and JSON files. Writers only ever add files (atomically),
 * so readers, DuckDB sessions of auditors included, never wait on a lock.
 */
export interface WarehouseLayout {
  root: string;
  /** One row per ingested record (the record catalog). */
  records: string;
  waveforms: string;
  quarantine: string;
  labels: string;
  features: string;
  models: string;
  runs: string;
  lineageEvents: string;
  /** SQL that defines the documented views; `.read` it from any DuckDB shell. */
  catalogSql: string;
}

export function warehouseLayout(root: string): WarehouseLayout {
  return {
    root,
    records: join(root, 'records'),
    waveforms: join(root, 'waveforms'),
    quarantine: join(root, 'quarantine'),
    labels: join(root, 'labels'),
    features: join(root, 'features'),
    models: join(root, 'models'),
    runs: join(root, 'runs'),
    lineageEvents: join(root, 'lineage', 'events'),
    catalogSql: join(root, 'catalog.sql'),
  };
}
