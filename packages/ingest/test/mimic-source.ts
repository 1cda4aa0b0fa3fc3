import { copyFile, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { sharedData } from './shared-data.ts';
import { writeFormat16Record } from './wfdb-writer.ts';

export const checkpkgRecord = () => join(sharedData, 'wfdb-c-bemoody/checkpkg/expected/test');
const MIMIC_LEAD_ORDER = ['I', 'II', 'III', 'aVR', 'aVF', 'aVL', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];

/** Copies the real 12-lead checkpkg record under a MIMIC record path, renaming record and file. */
export async function placeCheckpkgRecord(source: string, recordPath: string): Promise<void> {
  const name = recordPath.split('/').pop()!;
  const header = (await readFile(`${checkpkgRecord()}.hea`, 'latin1'))
    .replace(/^test /, `${name} `)
    .replaceAll(/^test\.dat/gm, `${name}.dat`);
  await mkdir(dirname(join(source, recordPath)), { recursive: true });
  await writeFile(join(source, `${recordPath}.hea`), header, 'latin1');
  await copyFile(`${checkpkgRecord()}.dat`, join(source, `${recordPath}.dat`));
}

/** A seeded 12-lead record in MIMIC lead order with distinct, non-flat leads. */
export function seededSignals(seed: number, length = 500): Int16Array[] {
  return MIMIC_LEAD_ORDER.map((_, lead) =>
    Int16Array.from({ length }, (_, i) => Math.round(150 * Math.sin((i + seed * 7 + lead * 13) / 25)) + lead),
  );
}

export interface BuiltSource {
  source: string;
  /** study id -> what the ingest must conclude about it. */
  expected: Map<number, string>;
}

/**
 * A MIMIC-IV-ECG source folder in the demo layout: the real record_list.csv excerpt's first rows
 * backed by the real checkpkg record, one v1.0-layout row, and one row per quarantine reason.
 */
export async function buildMimicSource(): Promise<BuiltSource> {
  const source = await mkdtemp(join(tmpdir(), 'enecg-ingest-src-'));
  const demo = (
    await readFile(join(sharedData, 'mimic-iv-ecg-demo-0.1-excerpt/record_list.excerpt.csv'), 'utf8')
  )
    .trim()
    .split('\n');
  const rows = [demo[0]!];
  const expected = new Map<number, string>();
  for (const line of demo.slice(1, 6)) {
    const [, studyId, , , path] = line.split(',');
    await placeCheckpkgRecord(source, path!);
    rows.push(line);
    expected.set(Number(studyId), 'ingested');
  }
  const v1 = (await readFile(join(sharedData, 'mimic-iv-ecg-v1.0-ecgfm/record_list.csv'), 'utf8'))
    .trim()
    .split('\n')[1]!;
  await placeCheckpkgRecord(source, v1.split(',')[4]!);
  rows.push(v1);
  expected.set(Number(v1.split(',')[1]), 'ingested');

  const add = (studyId: number, path: string, outcome: string) => {
    rows.push(`10009999,${studyId},${path.split('/').pop()},2180-01-01 00:00:00,${path}`);
    expected.set(studyId, outcome);
  };
  // The real broken LUDB record: its header names 1.dat (and record 1).
  const ludb = 'files/p10009999/s900000001/ludb-ecg';
  await mkdir(join(source, dirname(ludb)), { recursive: true });
  for (const ext of ['hea', 'dat']) {
    await copyFile(
      join(sharedData, `egm-shiva-r/inst/extdata/ludb-ecg.${ext}`),
      join(source, `${ludb}.${ext}`),
    );
  }
  add(900000001, ludb, 'missing-signal-file');

  const corrupt = 'files/p10009999/s900000002/900000002';
  await placeCheckpkgRecord(source, corrupt);
  const bytes = await readFile(join(source, `${corrupt}.dat`));
  bytes[1000] = bytes[1000]! ^ 0x40;
  await writeFile(join(source, `${corrupt}.dat`), bytes);
  add(900000002, corrupt, 'checksum-mismatch');

  const short = 'files/p10009999/s900000003/900000003';
  await placeCheckpkgRecord(source, short);
  await writeFile(join(source, `${short}.dat`), bytes.subarray(0, 5000));
  add(900000003, short, 'short-signal-file');

  const garbled = 'files/p10009999/s900000004/900000004';
  await placeCheckpkgRecord(source, garbled);
  await writeFile(join(source, `${garbled}.hea`), '900000004 twelve 500 5000\n');
  add(900000004, garbled, 'unparsable-header');

  const flat = 'files/p10009999/s900000005/900000005';
  const flatSignals = seededSignals(5);
  flatSignals[7] = new Int16Array(500).fill(12);
  await writeFormat16Record(join(source, dirname(flat)), '900000005', {
    samplingRate: 500,
    leadNames: MIMIC_LEAD_ORDER,
    signals: flatSignals,
  });
  add(900000005, flat, 'flat-lead');

  const dead = 'files/p10009999/s900000006/900000006';
  const deadSignals = seededSignals(6);
  deadSignals[2] = new Int16Array(500).fill(-32768);
  await writeFormat16Record(join(source, dirname(dead)), '900000006', {
    samplingRate: 500,
    leadNames: MIMIC_LEAD_ORDER,
    signals: deadSignals,
  });
  add(900000006, dead, 'invalid-lead');

  const threeLeads = 'files/p10009999/s900000007/900000007';
  await writeFormat16Record(join(source, dirname(threeLeads)), '900000007', {
    samplingRate: 500,
    leadNames: ['I', 'II', 'III'],
    signals: seededSignals(7).slice(0, 3),
  });
  add(900000007, threeLeads, 'wrong-shape');

  add(900000008, 'files/p10009999/s900000008/900000008', 'missing-header');
  add(900000009, '../outside/900000009', 'unsafe-path');
  add(900000010, '/etc/900000010', 'unsafe-path');

  // A link that leads out of the source folder.
  const outside = await mkdtemp(join(tmpdir(), 'enecg-ingest-outside-'));
  await placeCheckpkgRecord(outside, 'r/900000011');
  await mkdir(join(source, 'files/p10009999/s900000011'), { recursive: true });
  await symlink(join(outside, 'r/900000011.hea'), join(source, 'files/p10009999/s900000011/900000011.hea'));
  add(900000011, 'files/p10009999/s900000011/900000011', 'unsafe-path');

  await writeFile(join(source, 'record_list.csv'), `${rows.join('\n')}\n`);
  return { source, expected };
}
