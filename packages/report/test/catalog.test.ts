import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, requireDuckDBExtension, sqlString, withDuckDB, withLake } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTED_VIEWS, openCatalog, queryCatalog, refreshCatalog } from '../src/index.ts';
import {
  buildWarehouse,
  evaluationFixture,
  evaluationKeyFixture,
  type WarehouseFixture,
} from './warehouse-fixture.ts';

/**
 * What `.read catalog.sql` does in a DuckDB shell: run every statement of the file in a fresh database, whose
 * ducklake extension is loaded (a shell with network access installs it on first use).
 */
async function readCatalogSqlLikeAShell(catalogSql: string, query: string) {
  return withDuckDB(async (connection) => {
    for (const extension of ['ducklake', 'sqlite'] as const) {
      await connection.run(`LOAD ${sqlString(requireDuckDBExtension(extension))}`);
    }
    const text = await readFile(catalogSql, 'utf8');
    const statements = await connection.extractStatements(text);
    for (let index = 0; index < statements.count; index++) {
      await (await statements.prepare(index)).run();
    }
    return (await connection.runAndReadAll(query)).getRowObjectsJson();
  });
}

describe('catalog over an empty or partial warehouse', () => {
  it('defines only the views whose files exist, and still writes a readable catalog.sql', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-catalog-empty-'));
    const empty = await refreshCatalog(warehouse);
    expect(empty.views).toEqual([]);
    expect(await readFile(empty.path, 'utf8')).toContain('Not defined yet (no files): records');
    await withLake({ warehouse }, (lake) =>
      lake.transaction('one record', async (c) => {
        await c.run('CREATE TABLE records (study_id BIGINT, subject_id BIGINT)');
        await c.run('INSERT INTO records VALUES (40000001, 10000001)');
      }),
    );
    const partial = await refreshCatalog(warehouse);
    expect(partial.views).toEqual(['records']);
    expect(await readCatalogSqlLikeAShell(partial.path, 'SELECT count(*)::INT AS n FROM records')).toEqual([
      { n: 1 },
    ]);
  });
});

describe('catalog over a full pipeline run', () => {
  let fixture: WarehouseFixture;
  beforeAll(async () => {
    fixture = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-catalog-')));
    await refreshCatalog(fixture.warehouse);
  });

  it('catalog.sql defines and documents every view, and a shell session can query them', async () => {
    const catalogSql = join(fixture.warehouse, 'catalog.sql');
    const text = await readFile(catalogSql, 'utf8');
    for (const view of DOCUMENTED_VIEWS) expect(text).toContain(`CREATE OR REPLACE VIEW ${view.name} AS`);
    const documented = await readCatalogSqlLikeAShell(
      catalogSql,
      'SELECT view_name, comment FROM duckdb_views() WHERE NOT internal ORDER BY view_name',
    );
    expect(documented.map((row) => row.view_name)).toEqual(DOCUMENTED_VIEWS.map((v) => v.name).sort());
    expect(documented.every((row) => typeof row.comment === 'string' && row.comment.length > 10)).toBe(true);
  });

  it('answers counts, splits, runs and artifacts from the real files', async () => {
    const [counts] = await queryCatalog(
      fixture.warehouse,
      `SELECT (SELECT count(*) FROM records)::INT AS records, (SELECT count(*) FROM quarantine)::INT AS quarantined,
              (SELECT count(*) FROM labels)::INT AS labels, (SELECT sum(studies) FROM splits)::INT AS split_studies,
              (SELECT count(DISTINCT expert) FROM features)::INT AS experts`,
    );
    expect(counts).toEqual({ records: 89, quarantined: 1, labels: 89, split_studies: 89, experts: 1 });
    const runs = await queryCatalog(fixture.warehouse, 'SELECT job, status FROM runs ORDER BY started_at');
    expect(runs.map((run) => run.job)).toEqual([
      'pipeline',
      'ingest',
      'labels',
      'features',
      'train',
      'evaluate',
      'promote',
    ]);
    expect(new Set(runs.map((run) => run.status))).toEqual(new Set(['COMPLETE']));
    const [decision] = await queryCatalog(
      fixture.warehouse,
      'SELECT challenger, champion_after, promoted, verdict, rule, split, len(per_task)::INT AS tasks FROM champion_decisions',
    );
    expect(decision).toEqual({
      challenger: fixture.modelId,
      champion_after: fixture.modelId,
      promoted: true,
      verdict: 'first-champion',
      rule: 'paired-bootstrap-v1',
      split: 'val',
      tasks: 0,
    });
    const [weights] = await queryCatalog(
      fixture.warehouse,
      `SELECT job, "rows", bytes::INT AS bytes, length(sha256)::INT AS hash_length FROM artifacts WHERE name = 'model/weights'`,
    );
    expect(weights).toEqual({ job: 'train', rows: null, bytes: 4096, hash_length: 64 });
  });

  it('flattens evaluation.json into metrics with intervals, matching the file', async () => {
    const expected = evaluationFixture(fixture.modelId, fixture.runIds.evaluate, 42);
    const rows = await queryCatalog(
      fixture.warehouse,
      `SELECT task, source, metric, value, lo, hi FROM metrics
        WHERE (task = 'rr_interval' AND metric = 'mae') OR (task = 'report_label' AND source = 'expert:ecgfm' AND metric = 'f1')
        ORDER BY task, source`,
    );
    const rr = expected.tasks.rr_interval!;
    expect(rows.find((r) => r.task === 'rr_interval' && r.source === 'ensemble')).toMatchObject(
      rr.ensemble.mae!,
    );
    expect(rows.find((r) => r.source === 'baseline')).toMatchObject(rr.baseline.mae!);
    expect(rows.find((r) => r.source === 'expert:ecgfm')).toMatchObject(
      expected.tasks.report_label!.experts.ecgfm!.f1!,
    );
    const [count] = await queryCatalog(fixture.warehouse, 'SELECT count(*)::INT AS n FROM metrics');
    // 5 tasks x (ensemble + baseline + 5 experts) x metrics (2 for regression, 5 for classification).
    expect(count!.n).toBe(7 * (2 * 2 + 3 * 5));
  });

  it('evaluations lists every stored evaluation; models gives the lake snapshot a model read, for time travel', async () => {
    expect(
      await queryCatalog(
        fixture.warehouse,
        'SELECT model_id, split, evaluation_key, replicates FROM evaluations',
      ),
    ).toEqual([
      {
        model_id: fixture.modelId,
        split: 'test',
        evaluation_key: evaluationKeyFixture(42),
        replicates: 1000,
      },
    ]);
    const copy = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-catalog-time-travel-')));
    const [model] = await queryCatalog(
      copy.warehouse,
      'SELECT model_id, lake_snapshot::INT AS lake_snapshot FROM models',
    );
    expect(model).toEqual({ model_id: copy.modelId, lake_snapshot: expect.any(Number) });
    // A later ingest commits more records.
    await withLake({ warehouse: copy.warehouse }, (lake) =>
      lake.transaction('later ingest', (c) =>
        c.run('INSERT INTO records (study_id, subject_id) VALUES (49999991, 19999991), (49999992, 19999991)'),
      ),
    );
    // The query the report package's README documents, as `enecg sql` runs it.
    const [counts] = await queryCatalog(
      copy.warehouse,
      `SELECT (SELECT count(*) FROM lake.records AT (VERSION => ${model!.lake_snapshot}))::INT AS when_trained,
              (SELECT count(*) FROM lake.records)::INT AS now`,
    );
    expect(counts).toEqual({ when_trained: copy.studyIds.length, now: copy.studyIds.length + 2 });
  }, 60_000);

  it('features shows the current row per feature set and study; feature_history keeps the superseded ones', async () => {
    const copy = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-catalog-recomputed-')));
    const setFolder = join(copy.warehouse, 'features', 'dlinear', 'w3f9a1-p77c2d0');
    const [recomputed, withdrawn] = (await queryCatalog(
      copy.warehouse,
      'SELECT study_id::INT AS study_id FROM features ORDER BY study_id LIMIT 2',
    )) as Array<{ study_id: number }>;
    // A later run: one study recomputed from changed content, one withdrawn (its new content was refused).
    await withDuckDB((c) =>
      c.run(
        `COPY (SELECT * FROM (VALUES (${recomputed!.study_id}::BIGINT, 'new-content', [9, 9]::FLOAT[]),
                                     (${withdrawn!.study_id}::BIGINT, 'refused-content', NULL::FLOAT[]))
                   t(study_id, content_sha256, embedding))
           TO ${sqlString(join(setFolder, 'part-1.parquet'))} (FORMAT parquet)`,
      ),
    );
    // Another feature set holding the same study is current on its own.
    await mkdir(join(copy.warehouse, 'features', 'dlinear', 'w000000-p000000'), { recursive: true });
    await withDuckDB((c) =>
      c.run(
        `COPY (SELECT ${recomputed!.study_id}::BIGINT AS study_id, [1]::FLOAT[] AS embedding)
           TO ${sqlString(join(copy.warehouse, 'features', 'dlinear', 'w000000-p000000', 'part-0.parquet'))} (FORMAT parquet)`,
      ),
    );
    await refreshCatalog(copy.warehouse);
    const [counts] = await queryCatalog(
      copy.warehouse,
      `SELECT (SELECT count(*) FROM features WHERE cache_key = 'w3f9a1-p77c2d0')::INT AS current,
              (SELECT count(*) FROM features)::INT AS all_sets,
              (SELECT count(*) FROM feature_history)::INT AS history,
              (SELECT count(*) FROM feature_history WHERE NOT is_current)::INT AS superseded,
              (SELECT count(*) FROM (SELECT DISTINCT cache_key, study_id FROM features))::INT AS keys`,
    );
    expect(counts).toEqual({ current: 88, all_sets: 89, history: 92, superseded: 2, keys: 89 });
    const rows = await queryCatalog(
      copy.warehouse,
      `SELECT cache_key, content_sha256, embedding FROM features WHERE study_id = ${recomputed!.study_id} ORDER BY cache_key`,
    );
    expect(rows).toEqual([
      { cache_key: 'w000000-p000000', content_sha256: null, embedding: [1] },
      { cache_key: 'w3f9a1-p77c2d0', content_sha256: 'new-content', embedding: [9, 9] },
    ]);
    const history = await queryCatalog(
      copy.warehouse,
      `SELECT part, is_current, embedding IS NULL AS withdrawn FROM feature_history
        WHERE cache_key = 'w3f9a1-p77c2d0' AND study_id = ${withdrawn!.study_id} ORDER BY part`,
    );
    expect(history).toEqual([
      { part: 'part-0.parquet', is_current: false, withdrawn: false },
      { part: 'part-1.parquet', is_current: true, withdrawn: true },
    ]);
    // The same rows readFeatures reads for the feature set.
    const read = await readCatalogSqlLikeAShell(
      join(copy.warehouse, 'catalog.sql'),
      `SELECT count(*)::INT AS n FROM features WHERE study_id = ${withdrawn!.study_id}`,
    );
    expect(read).toEqual([{ n: 0 }]);
  }, 60_000);

  it('stops a query that runs past its time limit, and bounds its memory', async () => {
    const started = Date.now();
    await expect(
      queryCatalog(
        fixture.warehouse,
        'SELECT sum(a.range * b.range) AS n FROM range(100000000) a, range(100000000) b',
        { timeoutMs: 500 },
      ),
    ).rejects.toThrow(/ran longer than 0.5 s/);
    expect(Date.now() - started).toBeLessThan(30_000);
    const [limit] = await queryCatalog(
      fixture.warehouse,
      "SELECT current_setting('memory_limit') AS memory_limit",
      { memoryLimit: '256MB' },
    );
    expect(String(limit!.memory_limit)).toMatch(/^(244|256)\.\d* ?Mi?B$/);
  }, 60_000);

  it('a corrupt Parquet file makes its view unavailable without hiding the others', async () => {
    const copy = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-catalog-corrupt-')));
    const part = join('features', 'dlinear', 'w3f9a1-p77c2d0', 'part-0.parquet');
    await writeFile(join(copy.warehouse, part), 'not parquet');
    const catalog = await openCatalog(copy.warehouse);
    try {
      expect(catalog.unavailable.map((entry) => entry.view)).toEqual(['feature_history']);
      expect(catalog.unavailable[0]!.reason).toContain(part);
      expect(catalog.views).not.toContain('features');
      expect(await catalog.query('SELECT count(*)::INT AS n FROM records')).toEqual([{ n: 89 }]);
    } finally {
      catalog.close();
    }
  });

  it('refuses every statement that could write, attach, change settings or read outside the warehouse', async () => {
    const catalog = await openCatalog(fixture.warehouse);
    try {
      const refused = [
        'DELETE FROM records',
        'INSERT INTO records VALUES (1, 2)',
        'CREATE TABLE copy AS SELECT * FROM records',
        `COPY records TO ${sqlString(join(fixture.warehouse, 'stolen.csv'))}`,
        "ATTACH '/tmp/other.duckdb'",
        'SET enable_external_access = true',
        'DROP VIEW records',
        'SELECT 1; DROP VIEW records',
      ];
      for (const sql of refused) await expect(catalog.query(sql), sql).rejects.toThrow(ConfigError);
      await expect(catalog.query("SELECT * FROM read_csv('/etc/passwd')")).rejects.toThrow(
        /Permission Error/,
      );
      expect(await catalog.query('SELECT count(*)::INT AS n FROM records')).toEqual([{ n: 89 }]);
    } finally {
      catalog.close();
    }
  });
});
