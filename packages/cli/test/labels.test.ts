import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sqlString, withDuckDB } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

const SHARED_DATA = process.env.ENECG_SHARED_DATA ?? resolve(import.meta.dirname, '../../../../shared/data');
const present = existsSync(join(SHARED_DATA, 'mimic-iv-ecg-v1.0-ecgfm'));

describe('enecg labels', () => {
  it.skipIf(!present)(
    'labels the real MIMIC rows and prints the summary as JSON',
    async () => {
      const warehouse = join(await mkdtemp(join(tmpdir(), 'enecg-cli-labels-')), 'wh');
      const { code, stdout } = await enecg([
        'labels',
        '--source',
        join(SHARED_DATA, 'mimic-iv-ecg-v1.0-ecgfm'),
        '--hosp',
        join(SHARED_DATA, 'mimic-iv-demo-2.2/hosp'),
        '--warehouse',
        warehouse,
        '--json',
      ]);
      expect(code).toBe(0);
      const summary = JSON.parse(stdout);
      expect(summary.output).toMatchObject({
        path: join(warehouse, 'data/main/labels', `labels-${summary.labelSet}.parquet`),
        rows: 1,
      });
      expect(summary.statistics.tasks.report_label.classes).toEqual({ '0': 1 });
    },
    60_000,
  );

  it('refuses a bad configuration with its key and exit code 2', async () => {
    const config = join(await mkdtemp(join(tmpdir(), 'enecg-cli-labels-')), 'labels.yaml');
    await writeFile(config, 'split:\n  folds: 1\n');
    const { code, stderr } = await enecg([
      'labels',
      '--source',
      'x',
      '--hosp',
      'y',
      '--warehouse',
      'z',
      '--config',
      config,
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('split.folds');
  }, 30_000);

  it('names a missing input table with exit code 1', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'enecg-cli-labels-'));
    const { code, stderr } = await enecg([
      'labels',
      '--source',
      empty,
      '--hosp',
      empty,
      '--warehouse',
      join(empty, 'wh'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(join(empty, 'record_list.csv'));
  }, 30_000);

  it('a label table of the folder layout is refused, naming the command that converts it, which does', async () => {
    const warehouse = join(await mkdtemp(join(tmpdir(), 'enecg-cli-labels-')), 'wh');
    await mkdir(join(warehouse, 'labels'), { recursive: true });
    await withDuckDB((c) =>
      c.run(
        `COPY (SELECT 40000000 + i AS study_id, 10000000 + i AS subject_id, 'train' AS split, 0 AS fold,
                      '1.0.0' AS label_version FROM range(3) t(i))
           TO ${sqlString(join(warehouse, 'labels', 'labels.parquet'))} (FORMAT parquet)`,
      ),
    );
    const count = ['sql', '--warehouse', warehouse, 'SELECT count(*)::INT AS n FROM labels', '--json'];
    const refused = await enecg(count);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`enecg warehouse migrate --warehouse ${warehouse}`);
    const migrated = await enecg(['warehouse', 'migrate', '--warehouse', warehouse, '--json']);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(JSON.parse(migrated.stdout)).toMatchObject({
      migrated: true,
      labels: { migrated: true, rows: 3 },
    });
    const read = await enecg(count);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual([{ n: 3 }]);
  }, 60_000);
});
