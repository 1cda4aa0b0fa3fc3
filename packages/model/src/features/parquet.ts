import type { DuckDBConnection, DuckDBListVector, DuckDBValue } from '@duckdb/node-api';
import { BIGINT, DuckDBDataChunk, FLOAT, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import { InputError, queryRows, sqlString } from '@enecg/common';

/** Rows per appended chunk: large enough to amortise calls, small enough for short-lived buffers. */
const CHUNK_ROWS = 256;

export interface FeatureRows {
  studyIds: number[];
  embeddings: Float32Array[];
}

/** Constant identity columns stored with every row, so a glob over all feature files stays self-describing. */
export interface FeatureIdentity {
  expert: string;
  weightsId: string;
  preprocessingHash: string;
}

/**
 * Writes one Parquet part: study_id BIGINT, embedding FLOAT[], expert, weights_id, preprocessing_hash,
 * with `metadata` (backend and the like) as Parquet key-value metadata. Rows keep the given order.
 */
export async function writeFeaturePart(
  connection: DuckDBConnection,
  path: string,
  rows: FeatureRows,
  identity: FeatureIdentity,
  metadata: Record<string, string>,
): Promise<void> {
  await connection.run(
    'CREATE OR REPLACE TEMP TABLE feature_part (study_id BIGINT, embedding FLOAT[], expert VARCHAR, weights_id VARCHAR, preprocessing_hash VARCHAR)',
  );
  const appender = await connection.createAppender('feature_part');
  try {
    for (let start = 0; start < rows.studyIds.length; start += CHUNK_ROWS) {
      const end = Math.min(start + CHUNK_ROWS, rows.studyIds.length);
      const count = end - start;
      const chunk = DuckDBDataChunk.create([BIGINT, LIST(FLOAT), VARCHAR, VARCHAR, VARCHAR], count);
      const ids: DuckDBValue[] = [];
      const lists: DuckDBValue[] = [];
      for (let i = start; i < end; i++) {
        ids.push(BigInt(rows.studyIds[i]!));
        lists.push(listValue(Array.from(rows.embeddings[i]!)));
      }
      chunk.setColumnValues(0, ids);
      chunk.setColumnValues(1, lists);
      chunk.setColumnValues(2, new Array(count).fill(identity.expert));
      chunk.setColumnValues(3, new Array(count).fill(identity.weightsId));
      chunk.setColumnValues(4, new Array(count).fill(identity.preprocessingHash));
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  const kv = Object.entries(metadata)
    .map(([key, value]) => `${key}: ${sqlString(value)}`)
    .join(', ');
  await connection.run(
    `COPY feature_part TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd${kv ? `, KV_METADATA {${kv}}` : ''})`,
  );
  await connection.run('DROP TABLE feature_part');
}

export function parquetList(files: readonly string[]): string {
  return `[${files.map(sqlString).join(', ')}]`;
}

/** Study ids present in the given parts. */
export async function cachedStudyIds(
  connection: DuckDBConnection,
  files: readonly string[],
): Promise<Set<number>> {
  if (files.length === 0) return new Set();
  const rows = await queryRows(
    connection,
    `SELECT DISTINCT study_id FROM read_parquet(${parquetList(files)})`,
  );
  return new Set(rows.map((row) => Number(row.study_id)));
}

/** All rows of the given parts, ordered by study_id, as one row-major matrix. */
export async function readFeatureMatrix(
  connection: DuckDBConnection,
  files: readonly string[],
  source: string,
): Promise<{ studyIds: number[]; dim: number; matrix: Float32Array }> {
  if (files.length === 0) return { studyIds: [], dim: 0, matrix: new Float32Array(0) };
  const [{ n, dim, dims }] = (await queryRows(
    connection,
    `SELECT count(*) AS n, min(len(embedding)) AS dim, count(DISTINCT len(embedding)) AS dims FROM read_parquet(${parquetList(files)})`,
  )) as [{ n: string | number; dim: string | number; dims: string | number }];
  if (Number(dims) > 1)
    throw new InputError('embeddings of different lengths', { file: source, field: 'embedding' });
  const count = Number(n);
  const width = Number(dim);
  const studyIds = new Array<number>(count);
  const matrix = new Float32Array(count * width);
  const result = await connection.run(
    `SELECT study_id, embedding FROM read_parquet(${parquetList(files)}) ORDER BY study_id`,
  );
  let row = 0;
  for (
    let chunk = await result.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await result.fetchChunk()
  ) {
    const ids = chunk.getColumnVector(0);
    const lists = chunk.getColumnVector(1) as DuckDBListVector;
    const child = lists.childVector;
    for (let i = 0; i < chunk.rowCount; i++, row++) {
      studyIds[row] = Number(ids.getItem(i));
      const offset = lists.getEntryOffset(i);
      for (let j = 0; j < width; j++) matrix[row * width + j] = child.getItem(offset + j) as number;
    }
  }
  return { studyIds, dim: width, matrix };
}
