import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest, readStoredRecord } from '../src/index.ts';
import { seededSignals } from './mimic-source.ts';
import { writeFormat16Record } from './wfdb-writer.ts';

const LEADS = ['I', 'II', 'III', 'aVR', 'aVF', 'aVL', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];

describe('physical units', { timeout: 60_000 }, () => {
  it('converts microvolt leads with a baseline to millivolts and keeps invalid samples as NaN', async () => {
    const source = await mkdtemp(join(tmpdir(), 'enecg-units-'));
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-units-wh-'));
    const signals = seededSignals(3);
    signals[0]![10] = -32768;
    await writeFormat16Record(join(source, 'files/p1/s7'), '7', {
      samplingRate: 250,
      leadNames: LEADS,
      signals,
      gain: 2,
      baseline: 5,
      units: 'uV',
    });
    await writeFile(
      join(source, 'record_list.csv'),
      'subject_id,study_id,file_name,ecg_time,path\n1,7,7,,files/p1/s7/7\n',
    );
    expect(await ingest({ source, warehouse })).toMatchObject({ ingested: 1, quarantined: 0 });
    const { ecg, catalog } = await readStoredRecord(warehouse, 7);
    expect(catalog).toMatchObject({ samplingRate: 250, ecgTime: null });
    expect(ecg.signals[0]![0]).toBeCloseTo(((signals[0]![0]! - 5) / 2) * 0.001, 7);
    expect(ecg.signals[0]![10]).toBeNaN();
    expect(ecg.signals[5]![3]).toBe(Math.fround(((signals[5]![3]! - 5) / 2) * 0.001));
  });
});
