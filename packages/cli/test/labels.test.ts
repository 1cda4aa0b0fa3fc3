import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
});
