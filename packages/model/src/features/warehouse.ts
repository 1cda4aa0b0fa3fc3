import { listRecords, readWaveforms } from '@enecg/ingest';
import {
  type CachedContent,
  type CacheFeaturesOptions,
  cacheFeaturesFrom,
  DEFAULT_BATCH_SIZE,
  type FeatureSummary,
  type SourceRecord,
} from './cache.ts';

/**
 * The features stage: caches `expert`'s embeddings of every ingested record (waveforms read through
 * @enecg/ingest's readWaveforms), reading only the records not cached yet or re-ingested with changed
 * content since (ingest's content sha256 is the cache's content key).
 */
export async function cacheFeatures(options: CacheFeaturesOptions): Promise<FeatureSummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  return cacheFeaturesFrom(
    (cached, announceTotal) => warehouseRecords(options.warehouse, cached, batchSize, announceTotal),
    options,
  );
}

async function* warehouseRecords(
  warehouse: string,
  cached: CachedContent,
  batchSize: number,
  announceTotal: (records: number) => void,
): AsyncIterable<SourceRecord[]> {
  const catalog = await listRecords(warehouse);
  const contentHashes = new Map(catalog.map((row) => [row.studyId, row.contentSha256]));
  const wanted = catalog.filter((row) => cached.get(row.studyId) !== row.contentSha256);
  announceTotal(wanted.length);
  if (wanted.length === 0) return;
  // A record re-ingested between listing and reading is stored under its older hash: the next run
  // sees the difference and recomputes it, so the race costs work, never a stale embedding.
  const studyIds = wanted.length === catalog.length ? undefined : wanted.map((row) => row.studyId);
  for await (const batch of readWaveforms({ warehouse, studyIds, batchSize })) {
    yield batch.map((record) => ({ ...record, contentSha256: contentHashes.get(record.studyId) }));
  }
}
