import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError, sha256File } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { deriveLabels } from '../src/derive.ts';
import { labelSourceFiles, readHeader } from '../src/sources.ts';
import { ecg, writeMiniMimic } from './mini-mimic.ts';

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'enecg-labels-header-')), name);
  await writeFile(path, content);
  return path;
}

describe('readHeader', () => {
  it('reads quoted names, a byte-order mark and CRLF line ends', async () => {
    const path = await file('t.csv', '\uFEFFsubject_id,"study, id","say ""hi""",ecg_time\r\n1,2,3,4\r\n');
    expect(await readHeader(path)).toEqual(['subject_id', 'study, id', 'say "hi"', 'ecg_time']);
  });

  it('reads the header of a large gzip-compressed file', async () => {
    const body = Array.from({ length: 50_000 }, (_, i) => `${i},F,50,2150`).join('\n');
    const path = await file(
      'patients.csv.gz',
      gzipSync(`subject_id,gender,anchor_age,anchor_year\n${body}\n`),
    );
    expect(await readHeader(path)).toEqual(['subject_id', 'gender', 'anchor_age', 'anchor_year']);
  });

  it('keeps surrounding spaces, so that " study_id" is not taken for study_id', async () => {
    expect(await readHeader(await file('t.csv', 'subject_id, study_id\n'))).toEqual([
      'subject_id',
      ' study_id',
    ]);
  });

  it('refuses an empty file and a file that is not gzip, naming it', async () => {
    const empty = await file('empty.csv', '');
    await expect(readHeader(empty)).rejects.toMatchObject({ location: { file: empty } });
    const fake = await file('fake.csv.gz', 'subject_id\n');
    await expect(readHeader(fake)).rejects.toBeInstanceOf(InputError);
  });
});

describe('labelSourceFiles', () => {
  it('lists exactly the tables the rules read, and derivation reuses the hashes a caller passes', async () => {
    const paths = await writeMiniMimic({ recordList: [ecg(1, 10, '2180-01-01 10:00:00')] });
    await writeFile(join(paths.hosp, 'prescriptions.csv'), 'subject_id\n1\n');
    const files = await labelSourceFiles(paths);
    expect(files).toEqual([
      join(paths.source, 'record_list.csv'),
      join(paths.hosp, 'patients.csv.gz'),
      join(paths.hosp, 'labevents.csv.gz'),
      join(paths.hosp, 'd_labitems.csv.gz'),
    ]);

    const recordList = files[0]!;
    const known = { [recordList]: 'f'.repeat(64) };
    const summary = await deriveLabels({ ...paths, knownSha256: known });
    expect(summary.sources.record_list?.sha256).toBe(known[recordList]);
    expect(summary.sources.patients?.sha256).toBe(await sha256File(files[1]!));
  });
});
