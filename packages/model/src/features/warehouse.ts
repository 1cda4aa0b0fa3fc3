import type { EcgRecord } from '@enecg/common';
import { listRecords, readWaveforms } from '@enecg/ingest';
import {
  type CacheFeaturesOptions,
  cacheFeaturesFrom,
  DEFAULT_BATCH_SIZE,
  type FeatureSummary,
} from './cache.ts';

/**
 * The features stage: caches `expert`'s embeddings of every ingested record (waveforms read through
 * @enecg/ingest's readWaveforms), reading only the records not cached yet.
 */
export async function cacheFeatures(options: CacheFeaturesOptions): Promise<FeatureSummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  return cacheFeaturesFrom((cached) => warehouseRecords(options.warehouse, cached, batchSize), options);
}

async function warehouseRecords(
  warehouse: string,
  cached: ReadonlySet<number>,
  batchSize: number,
): Promise<AsyncIterable<EcgRecord[]>> {
  if (cached.size === 0) return readWaveforms({ warehouse, batchSize });
  const studyIds = (await listRecords(warehouse)).map((row) => row.studyId).filter((id) => !cached.has(id));
  return readWaveforms({ warehouse, studyIds, batchSize });
}
