import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConfigError,
  duckdbExtensionPath,
  LAKE,
  postgresBinaries,
  queryRows,
  resolveLakeCatalog,
  type ScratchPostgres,
  sha256File,
  sqlString,
  startScratchPostgres,
  withDuckDB,
  withLake,
} from '@enecg/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deriveLabels,
  LABEL_DERIVATIONS_TABLE,
  LABELS_TABLE,
  type LabelSummary,
  labelSetFile,
  migrateFolderLabels,
  readLabels,
} from '../src/index.ts';
import { ecg, patient, writeMiniMimic } from './mini-mimic.ts';

type MiniMimic = Awaited<ReturnType<typeof writeMiniMimic>>;

const DERIVE_PROCESS = join(import.meta.dirname, 'support', 'derive-process.ts');
const haveExtensions = existsSync(duckdbExtensionPath('ducklake'));
if (!haveExtensions)
  console.warn('label lake tests skipped: run `npx enecg setup` for the DuckDB extensions');

function cohort() {
  const recordList: string[][] = [];
  const patients: string[][] = [];
  for (let s = 0; s < 40; s++) {
    const subjectId = 10000000 + s;
    patients.push(patient(subjectId, s % 2 ? 'F' : 'M', 40 + s, 2150));
    recordList.push(ecg(subjectId, 40000000 + 2 * s, '2150-01-01 10:00:00'));
    recordList.push(ecg(subjectId, 40000001 + 2 * s, '2151-01-01 10:00:00'));
  }
  return { recordList, patients };
}

function deriveInProcess(paths: MiniMimic): Promise<{ labelSet: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', DERIVE_PROCESS, paths.source, paths.hosp, paths.warehouse],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`labels exited ${code}: ${err}`)),
    );
  });
}

/** Rows per label set and how many times each study appears in it. */
async function storedSets(warehouse: string) {
  return withLake({ warehouse, readOnly: true }, async ({ connection }) =>
    queryRows(
      connection,
      `SELECT label_set, count(*)::INTEGER AS rows, count(DISTINCT study_id)::INTEGER AS studies
         FROM ${LAKE}.${LABELS_TABLE} GROUP BY label_set ORDER BY label_set`,
    ),
  );
}

async function derivations(warehouse: string) {
  return withLake({ warehouse, readOnly: true }, async ({ connection }) =>
    queryRows(
      connection,
      `SELECT sequence, label_set, reused FROM ${LAKE}.${LABEL_DERIVATIONS_TABLE} ORDER BY sequence`,
    ),
  );
}

describe.skipIf(!haveExtensions)('labels in the lake', { timeout: 120_000 }, () => {
  let paths: MiniMimic;
  let first: LabelSummary;

  let postgres: ScratchPostgres | undefined;

  beforeAll(async () => {
    paths = await writeMiniMimic(cohort());
    first = await deriveLabels(paths);
    const bin = postgresBinaries();
    if (bin) postgres = await startScratchPostgres(bin);
    else console.warn('PostgreSQL catalog label test skipped: Debian `postgresql` is not installed');
  });
  afterAll(() => postgres?.stop());

  it('stores a derivation as one immutable label set; the same inputs reuse it', async () => {
    expect(first).toMatchObject({ reused: false, output: { rows: 80 } });
    expect(first.output.path).toBe(labelSetFile(paths.warehouse, first.labelSet));
    const again = await deriveLabels(paths);
    expect(again).toMatchObject({ labelSet: first.labelSet, reused: true, output: first.output });
    expect(await storedSets(paths.warehouse)).toEqual([{ label_set: first.labelSet, rows: 80, studies: 80 }]);
    expect((await derivations(paths.warehouse)).map((row) => row.reused)).toEqual([false, true]);
  });

  it('keeps another configuration beside it; readers name the set or get the latest derivation', async () => {
    const reseeded = await deriveLabels({ ...paths, config: { split: { seed: 7 } } });
    expect(reseeded.labelSet).not.toBe(first.labelSet);
    expect((await storedSets(paths.warehouse)).map((set) => [set.rows, set.studies])).toEqual([
      [80, 80],
      [80, 80],
    ]);
    const latest = await readLabels(paths.warehouse);
    const named = await readLabels(paths.warehouse, first.labelSet);
    expect(latest).toEqual(await readLabels(paths.warehouse, reseeded.labelSet));
    expect(latest.map((row) => row.split)).not.toEqual(named.map((row) => row.split));
    // Running the first configuration again makes its set the latest one, without storing it again.
    await deriveLabels(paths);
    expect(await readLabels(paths.warehouse)).toEqual(named);
    await expect(readLabels(paths.warehouse, 'no-such-set')).rejects.toThrow(/no label set no-such-set/);
  });

  const catalogs: Array<[string, () => Promise<string | undefined>]> = [
    ['SQLite', async () => undefined],
    ['PostgreSQL', async () => postgres?.createDatabase('labels')],
  ];
  it.each(catalogs)(
    'stores a set once when three processes derive it at once (%s catalog)',
    async (name, catalogFor) => {
      if (name === 'PostgreSQL' && !postgres) return;
      const fresh = { ...paths, warehouse: join(paths.warehouse, '..', `concurrent-${name}`) };
      const catalog = await catalogFor();
      if (catalog) await resolveLakeCatalog(fresh.warehouse, catalog);
      const runs = await Promise.all([1, 2, 3].map(() => deriveInProcess(fresh)));
      expect(new Set(runs.map((run) => run.labelSet))).toEqual(new Set([first.labelSet]));
      expect(runs.filter((run) => !run.reused)).toHaveLength(1);
      expect(await storedSets(fresh.warehouse)).toEqual([
        { label_set: first.labelSet, rows: 80, studies: 80 },
      ]);
      expect(await derivations(fresh.warehouse)).toHaveLength(3);
      // The same bytes as the set derived alone: label files do not depend on who wrote them.
      expect(await readdir(join(fresh.warehouse, 'data', 'main', 'labels'))).toEqual([
        `labels-${first.labelSet}.parquet`,
      ]);
      expect(await sha256File(labelSetFile(fresh.warehouse, first.labelSet))).toBe(first.output.sha256);
    },
  );

  it('converts a label table of the folder layout, refusing to read it until then', async () => {
    const old = join(paths.warehouse, '..', 'folder-layout');
    await mkdir(join(old, 'labels'), { recursive: true });
    // The label file as earlier versions wrote it: the same columns without label_set.
    await withDuckDB((c) =>
      c.run(
        `COPY (SELECT * EXCLUDE (label_set) FROM read_parquet(${sqlString(first.output.path)}))
           TO ${sqlString(join(old, 'labels', 'labels.parquet'))} (FORMAT parquet)`,
      ),
    );
    await expect(readLabels(old)).rejects.toThrow(ConfigError);
    await expect(readLabels(old)).rejects.toThrow(/enecg warehouse migrate --warehouse/);
    const migrated = await migrateFolderLabels(old);
    expect(migrated).toMatchObject({ migrated: true, rows: 80 });
    expect(existsSync(join(old, 'labels'))).toBe(false);
    expect(await readLabels(old)).toEqual(await readLabels(paths.warehouse, first.labelSet));
    expect(await migrateFolderLabels(old)).toMatchObject({ migrated: false });
  });
});
