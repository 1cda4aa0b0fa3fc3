export { ARRHYTHMIA_CLASS_NAMES, OTHER_ARRHYTHMIA_CLASS } from './arrhythmia.ts';
export { parseConfig } from './config.ts';
export { queryRows, sqlString, withDuckDB } from './duckdb.ts';
export type { DuckDBExtension } from './duckdb-extensions.ts';
export {
  DUCKDB_EXTENSION_VERSION,
  duckdbExtensionPath,
  ensureDuckDBExtensions,
  requireDuckDBExtension,
} from './duckdb-extensions.ts';
export type { EcgRecord, LeadName } from './ecg.ts';
export { MIMIC_LEAD_ORDER, STANDARD_LEADS } from './ecg.ts';
export type { InputLocation } from './errors.ts';
export {
  ConfigError,
  EnecgError,
  EnvironmentError,
  InputError,
  IntegrityError,
} from './errors.ts';
export { produceFileAtomic, storeContentOnce, writeFileAtomic, writeFileOnce } from './files.ts';
export { canonicalJson, hashObject, sha256, sha256File } from './hashing.ts';
export type { Lake, LakeCatalog, LakeOptions } from './lake.ts';
export {
  FOLDER_LAYOUT_TABLES,
  hasFolderLayoutTables,
  LAKE,
  LOAD_SETTINGS,
  lakeAttachSql,
  lakeAttachTarget,
  lakeExists,
  lakeTableExists,
  openLake,
  refuseFolderLayout,
  resolveLakeCatalog,
  serializedTransaction,
  withLake,
} from './lake.ts';
export { currentLakeSnapshot } from './lake-snapshot.ts';
export type {
  ChainedLineageEvent,
  CodeVersion,
  DatasetRef,
  LabelRulesFacet,
  LineageEvent,
  LineageFacets,
  LineageHead,
} from './lineage.ts';
export {
  appendLineageEvent,
  appendStartEvent,
  codeVersion,
  datasetDigest,
  describeDataset,
  lineageEventFileName,
  lineageEventHead,
  lineageEventSequence,
  newRunId,
  readLineageHead,
  warehousePath,
} from './lineage.ts';
export { repositoryRoot, toolsDir, workDir } from './local-dirs.ts';
export { mulberry32 } from './random.ts';
export type { ScratchPostgres } from './scratch-postgres.ts';
export { postgresBinaries, startScratchPostgres } from './scratch-postgres.ts';
export { TASK_DISPLAY } from './tasks.ts';
export type { WarehouseLayout } from './warehouse.ts';
export { warehouseLayout } from './warehouse.ts';
