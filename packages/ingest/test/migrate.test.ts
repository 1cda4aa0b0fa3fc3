import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  duckdbExtensionPath,
  LAKE,
  sqlString,
  warehouseLayout,
  withDuckDB,
  withLake,
} from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, listQuarantine, listRecords, migrateFolderWarehouse, readWaveforms } from '../src/index.ts';

const haveExtensions = existsSync(duckdbExtensionPath('ducklake'));

async function readAll(warehouse: string) {
  const out: Array<{ studyId: number; first: number }> = [];
  for await (const batch of readWaveforms({ warehouse, batchSize: 8 })) {
    for (const record of batch) out.push({ studyId: record.studyId, first: record.signals[0]![0]! });
  }
  return out;
}

describe.skipIf(!haveExtensions)(
  'a warehouse in the folder layout of earlier versions',
  { timeout: 120_000 },
  () => {
    let dir: string;
    let lake: string;
    let folders: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'enecg-migrate-'));
      const source = join(dir, 'source');
      await generateSynthetic({ subjects: 4, outDir: source, seed: 3 });
      lake = join(dir, 'lake');
      await ingest({ source, warehouse: lake, batchSize: 4 });
      // The same tables as the folder layout kept them: loose parts under records/, waveforms/, quarantine/.
      folders = join(dir, 'folders');
      await mkdir(join(folders, 'records'), { recursive: true });
      await mkdir(join(folders, 'waveforms'), { recursive: true });
      await withLake({ warehouse: lake, readOnly: true }, ({ connection }) =>
        connection.run(
          `COPY (SELECT * FROM ${LAKE}.records ORDER BY study_id) TO ${sqlString(join(folders, 'records', 'part-s0of1-a.parquet'))} (FORMAT parquet)`,
        ),
      );
      const waveforms = warehouseLayout(lake).waveforms;
      for (const name of await readdir(waveforms)) {
        await copyFile(join(waveforms, name), join(folders, 'waveforms', name));
      }
      // A part no catalog row points at: what an interrupted run of the folder layout left behind.
      await withDuckDB((c) =>
        c.run(`COPY (SELECT 1 AS x) TO ${sqlString(join(folders, 'waveforms', 'part-abandoned.parquet'))}`),
      );
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('is refused with a message naming the command that converts it', async () => {
      await expect(listRecords(folders)).rejects.toThrow(ConfigError);
      await expect(listRecords(folders)).rejects.toThrow(/enecg warehouse migrate --warehouse/);
    });

    it('is converted by one command, reading back as the lake it was made from', async () => {
      const summary = await migrateFolderWarehouse(folders);
      expect(summary).toMatchObject({ migrated: true, records: (await listRecords(lake)).length });
      expect(await listRecords(folders)).toEqual(await listRecords(lake));
      expect(await listQuarantine(folders)).toEqual([]);
      expect(await readAll(folders)).toEqual(await readAll(lake));
      expect(existsSync(join(folders, 'records'))).toBe(false);
      expect(await readdir(warehouseLayout(folders).waveforms)).not.toContain('part-abandoned.parquet');
      expect(await migrateFolderWarehouse(folders)).toMatchObject({ migrated: false });
    });
  },
);
