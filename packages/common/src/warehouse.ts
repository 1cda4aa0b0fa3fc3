import { join } from 'node:path';

/**
 * The warehouse folder: a DuckLake (catalog.sqlite or a PostgreSQL catalog named in lake.json, data files
 * under data/<schema>/<table>/) plus the files that are not tables yet (models, reports, lineage events).
 * Readers, DuckDB sessions of auditors included, never wait on a writer.
 */
export interface WarehouseLayout {
  root: string;
  /** Data files of the lake's tables (read them through the lake, not by listing the folder). */
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
    records: join(root, 'data', 'main', 'records'),
    waveforms: join(root, 'data', 'main', 'waveforms'),
    quarantine: join(root, 'data', 'main', 'quarantine'),
    labels: join(root, 'data', 'main', 'labels'),
    features: join(root, 'features'),
    models: join(root, 'models'),
    runs: join(root, 'runs'),
    lineageEvents: join(root, 'lineage', 'events'),
    catalogSql: join(root, 'catalog.sql'),
  };
}
