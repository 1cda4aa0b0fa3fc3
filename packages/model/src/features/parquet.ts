import type { DuckDBConnection, DuckDBListVector, DuckDBVector } from '@duckdb/node-api';
import { FLOAT, LIST, listValue } from '@duckdb/node-api';
import { InputError, queryRows, sqlString } from '@enecg/common';

const EMBEDDING_TYPE = LIST(FLOAT);

export interface FeatureRows {
  studyIds: number[];
  /** The content hash of the record each embedding was computed from. */
  contentHashes: string[];
  /** null withdraws the study's earlier embedding: its new content was quarantined. */
  embeddings: Array<Float32Array | null>;
}

/** Constant identity columns stored with every row, so a glob over all feature files stays self-describing. */
export interface FeatureIdentity {
  expert: string;
  weightsId: string;
  preprocessingHash: string;
}

/**
 * Writes one Parquet part: study_id BIGINT, content_sha256, embedding FLOAT[], expert, weights_id,
 * preprocessing_hash, with `metadata` (backend and the like) as Parquet key-value metadata. Rows keep
 * the given order.
 */
export async function writeFeaturePart(
  connection: DuckDBConnection,
  path: string,
  rows: FeatureRows,
  identity: FeatureIdentity,
  metadata: Record<string, string>,
): Promise<void> {
  await connection.run(
    'CREATE OR REPLACE TEMP TABLE feature_part (study_id BIGINT, content_sha256 VARCHAR, embedding FLOAT[], expert VARCHAR, weights_id VARCHAR, preprocessing_hash VARCHAR)',
  );
  // Row by row: DuckDB 1.4's data-chunk path corrupts VARCHAR columns longer than 12 bytes.
  const appender = await connection.createAppender('feature_part');
  try {
    for (let i = 0; i < rows.studyIds.length; i++) {
      appender.appendBigInt(BigInt(rows.studyIds[i]!));
      appender.appendVarchar(rows.contentHashes[i]!);
      const embedding = rows.embeddings[i]!;
      if (embedding === null) appender.appendNull();
      else appender.appendList(listValue(Array.from(embedding)), EMBEDDING_TYPE);
      appender.appendVarchar(identity.expert);
      appender.appendVarchar(identity.weightsId);
      appender.appendVarchar(identity.preprocessingHash);
      appender.endRow();
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

/**
 * The current row of each study: parts are numbered in the order they were written, so a study's row in
 * the latest part supersedes its rows in earlier ones (a recomputation after its content changed).
 * Parts written before content hashes were stored read as content_sha256 NULL.
 */
async function currentRowsSql(connection: DuckDBConnection, files: readonly string[]): Promise<string> {
  const source = `read_parquet(${parquetList(files)}, union_by_name = true, filename = true)`;
  const columns = await queryRows(connection, `DESCRIBE SELECT * FROM ${source}`);
  const contentHash = columns.some((column) => column.column_name === 'content_sha256')
    ? 'content_sha256'
    : 'NULL::VARCHAR AS content_sha256';
  return `SELECT study_id, ${contentHash}, embedding FROM ${source}
    QUALIFY row_number() OVER (PARTITION BY study_id ORDER BY filename DESC) = 1`;
}

/**
 * The content hash each cached study's current embedding was computed from (null for parts written
 * before hashes were stored, so those are recomputed once). Withdrawn studies are not cached.
 */
export async function cachedContentHashes(
  connection: DuckDBConnection,
  files: readonly string[],
): Promise<Map<number, string | null>> {
  if (files.length === 0) return new Map();
  const rows = await queryRows(
    connection,
    `SELECT study_id, content_sha256 FROM (${await currentRowsSql(connection, files)}) WHERE embedding IS NOT NULL`,
  );
  return new Map(rows.map((row) => [Number(row.study_id), (row.content_sha256 as string | null) ?? null]));
}

/** The current embedding of every study in the given parts, ordered by study_id, as one row-major matrix. */
export async function readFeatureMatrix(
  connection: DuckDBConnection,
  files: readonly string[],
  source: string,
): Promise<{ studyIds: number[]; dim: number; matrix: Float32Array }> {
  if (files.length === 0) return { studyIds: [], dim: 0, matrix: new Float32Array(0) };
  await connection.run(
    `CREATE OR REPLACE TEMP VIEW current_features AS SELECT * FROM (${await currentRowsSql(connection, files)}) WHERE embedding IS NOT NULL`,
  );
  const [{ n, dim, dims }] = (await queryRows(
    connection,
    'SELECT count(*) AS n, min(len(embedding)) AS dim, count(DISTINCT len(embedding)) AS dims FROM current_features',
  )) as [{ n: string | number; dim: string | number; dims: string | number }];
  if (Number(dims) > 1)
    throw new InputError('embeddings of different lengths', { file: source, field: 'embedding' });
  const count = Number(n);
  const width = Number(dim);
  const studyIds = new Array<number>(count);
  const matrix = new Float32Array(count * width);
  const result = await connection.run('SELECT study_id, embedding FROM current_features ORDER BY study_id');
  let row = 0;
  for (
    let chunk = await result.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await result.fetchChunk()
  ) {
    const ids = chunk.getColumnVector(0);
    const lists = chunk.getColumnVector(1) as DuckDBListVector;
    for (let i = 0; i < chunk.rowCount; i++, row++) {
      studyIds[row] = Number(ids.getItem(i));
      // A view of the list's slice of the child vector (no copy; the embedding IS NOT NULL above).
      const embedding = lists.getItemVector(i) as DuckDBVector<number>;
      for (let j = 0; j < width; j++) matrix[row * width + j] = embedding.getItem(j) as number;
    }
  }
  return { studyIds, dim: width, matrix };
}
