import type { EcgRecord } from '@enecg/common';
import { EnvironmentError, queryRows, warehouseLayout, withDuckDB } from '@enecg/common';
import * as ingest from '@enecg/ingest';
import {
  type CacheFeaturesOptions,
  cacheFeaturesFrom,
  DEFAULT_BATCH_SIZE,
  type FeatureSummary,
} from './cache.ts';
import { parquetList } from './parquet.ts';
import { listFeatureParts } from './store.ts';

type ReadWaveforms = (options: {
  warehouse: string;
  studyIds?: number[];
  batchSize: number;
}) => AsyncIterable<EcgRecord[]>;

/**
 * The features stage: caches `expert`'s embeddings of every ingested record (waveforms read through
 * @enecg/ingest's readWaveforms), skipping records cached already.
 */
export async function cacheFeatures(options: CacheFeaturesOptions): Promise<FeatureSummary> {
  return cacheFeaturesFrom(
    (cached) => warehouseRecords(options.warehouse, cached, options.batchSize ?? DEFAULT_BATCH_SIZE),
    options,
  );
}

async function warehouseRecords(
  warehouse: string,
  cached: ReadonlySet<number>,
  batchSize: number,
): Promise<AsyncIterable<EcgRecord[]>> {
  const readWaveforms = (ingest as unknown as Record<string, unknown>).readWaveforms as
    | ReadWaveforms
    | undefined;
  if (typeof readWaveforms !== 'function') {
    throw new EnvironmentError(
      '@enecg/ingest does not export readWaveforms',
      'update the workspace: the waveform reader comes with the ingest stage',
    );
  }
  if (cached.size === 0) return readWaveforms({ warehouse, batchSize });
  const recordFiles = await listFeatureParts(warehouseLayout(warehouse).records);
  const ingested =
    recordFiles.length === 0
      ? []
      : await withDuckDB((connection) =>
          queryRows(
            connection,
            `SELECT DISTINCT study_id FROM read_parquet(${parquetList(recordFiles)}) ORDER BY study_id`,
          ),
        );
  const studyIds = ingested.map((row) => Number(row.study_id)).filter((id) => !cached.has(id));
  return studyIds.length === 0 ? noRecords() : readWaveforms({ warehouse, studyIds, batchSize });
}

async function* noRecords(): AsyncIterable<EcgRecord[]> {}
