export type { Shard } from './catalog.ts';
export { listQuarantine, listRecords } from './catalog.ts';
export type { IngestOptions, IngestProgress, IngestSummary } from './ingest.ts';
export { ingest } from './ingest.ts';
export type { CatalogRow, QuarantineRow, StoredWaveform } from './tables.ts';
export type { ReadWaveformsOptions, StoredRecord } from './waveforms.ts';
export { readStoredRecord, readWaveforms, toEcgRecord } from './waveforms.ts';
export * from './wfdb/index.ts';
