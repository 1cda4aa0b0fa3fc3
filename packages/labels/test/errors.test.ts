import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, InputError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { deriveLabels, type LabelConfigInput } from '../src/index.ts';
import { ecg, measurement, patient, writeMiniMimic } from './mini-mimic.ts';

const S = 10000060;
const T = '2150-01-10 12:00:00';

async function dataset() {
  return writeMiniMimic({
    recordList: [ecg(S, 1, T), ecg(S, 2, T)],
    machineMeasurements: [
      measurement(S, 1, T, ['Sinus rhythm'], 800),
      measurement(S, 2, T, ['Sinus rhythm'], 810),
    ],
    patients: [patient(S, 'F', 40, 2150)],
  });
}

async function inputError(run: Promise<unknown>): Promise<InputError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return error as InputError;
}

describe('bad input is refused with the file and the column', () => {
  it('names a required column missing from the header', async () => {
    const paths = await dataset();
    const file = join(paths.source, 'machine_measurements.csv');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(',rr_interval,', ',rr_intervall,'));
    const error = await inputError(deriveLabels(paths));
    expect(error.location).toMatchObject({ file, field: 'rr_interval', line: 1 });
    expect(error.message).toContain('machine_measurements.csv');
    expect(error.message).toContain('field rr_interval');
  });

  it('names the column of a gzip-compressed hosp table', async () => {
    const paths = await dataset();
    const { gzipSync } = await import('node:zlib');
    const file = join(paths.hosp, 'patients.csv.gz');
    await writeFile(file, gzipSync('subject_id,sex,anchor_age,anchor_year\n10000060,F,40,2150\n'));
    const error = await inputError(deriveLabels(paths));
    expect(error.location).toMatchObject({ file, field: 'gender' });
  });

  it('names the file, line and column of a value that does not parse', async () => {
    const paths = await dataset();
    const file = join(paths.source, 'machine_measurements.csv');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(',810,', ',8l0,'));
    const error = await inputError(deriveLabels(paths));
    expect(error.location).toMatchObject({ file, field: 'rr_interval', line: 3 });
    expect(error.message).toMatch(/8l0/);
  });

  it('refuses a malformed timestamp column in labevents', async () => {
    const paths = await writeMiniMimic({
      recordList: [ecg(S, 1, T)],
      patients: [patient(S, 'F', 40, 2150)],
      labevents: [
        [
          '1',
          String(S),
          '',
          '1',
          '50971',
          '',
          '10/01/2150 noon',
          '',
          '4.0',
          '4.0',
          '',
          '3.3',
          '5.1',
          '',
          '',
          '',
        ],
      ],
    });
    const error = await inputError(deriveLabels(paths));
    expect(error.location).toMatchObject({
      file: join(paths.hosp, 'labevents.csv.gz'),
      field: 'charttime',
      line: 2,
    });
  });

  it('refuses a header that names a column twice or leaves one unnamed', async () => {
    const paths = await dataset();
    const file = join(paths.source, 'record_list.csv');
    await writeFile(file, 'subject_id,study_id,study_id,ecg_time\n');
    expect((await inputError(deriveLabels(paths))).location).toMatchObject({ file, field: 'study_id' });
    await writeFile(file, 'subject_id,,study_id,ecg_time\n');
    expect((await inputError(deriveLabels(paths))).message).toMatch(/column 2 of the header has no name/);
  });

  it('refuses a study_id that appears twice, naming the record', async () => {
    const paths = await writeMiniMimic({
      recordList: [ecg(S, 1, T), ecg(S, 1, '2150-01-11 12:00:00')],
      patients: [patient(S, 'F', 40, 2150)],
    });
    const error = await inputError(deriveLabels(paths));
    expect(error.location).toMatchObject({
      file: join(paths.source, 'record_list.csv'),
      record: '1',
      field: 'study_id',
    });
  });

  it('names a required table that is absent', async () => {
    const paths = await dataset();
    const error = await inputError(deriveLabels({ ...paths, hosp: paths.source }));
    expect(error.location.file).toBe(join(paths.source, 'patients.csv'));
  });
});

describe('bad configuration is refused before any work, naming the key', () => {
  it.each([
    [{ split: { fractions: { train: 0.8, val: 0.2, test: 0.1 } } }, 'split.fractions.train'],
    [{ potassium: { windowHours: -1 } }, 'potassium.windowHours'],
    [{ potassium: { itemIds: [] } }, 'potassium.itemIds'],
    [{ rrInterval: { minMs: 3000, maxMs: 200 } }, 'rrInterval.minMs'],
    [{ split: { folds: 1 } }, 'split.folds'],
    [{ split: { sead: 1 } }, 'split.sead'],
  ])('%o -> %s', async (config, key) => {
    // Folders that do not exist: the config is refused before they are looked at.
    const run = deriveLabels({
      source: '/nonexistent',
      hosp: '/nonexistent',
      warehouse: '/nonexistent',
      config: config as LabelConfigInput,
    });
    await expect(run).rejects.toBeInstanceOf(ConfigError);
    await expect(run).rejects.toMatchObject({ key });
  });

  it('refuses a potassium itemid that d_labitems names as another test', async () => {
    const paths = await dataset();
    const run = deriveLabels({ ...paths, config: { potassium: { itemIds: [50971, 50983] } } });
    await expect(run).rejects.toBeInstanceOf(ConfigError);
    await expect(run).rejects.toThrow(/50983 is "Sodium" in d_labitems.csv.gz/);
  });
});
