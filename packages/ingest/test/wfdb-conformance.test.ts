import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checksumMismatches,
  findLead,
  physicalSignal,
  readWfdbRecord,
  WfdbInputError,
  type WfdbRecord,
} from '../src/index.ts';
import { hasSharedData, missingSharedData, readNumberTable, sharedData } from './shared-data.ts';

const sample = (name: string) => join(sharedData, 'wfdb-python/sample-data', name);
const golden = (name: string) => join(sharedData, 'wfdb-python/tests/target-output', name);

/** Golden columns are rdsamp output: one row per frame, one column per signal. */
function column(rows: number[][], index: number): number[] {
  return rows.map((row) => row[index]!);
}

function expectDigitalEqual(record: WfdbRecord, rows: number[][], from = 0, to = record.sampleCount) {
  expect(rows.length).toBe(to - from);
  record.digital.forEach((signal, index) => {
    expect(Array.from(signal.subarray(from, to)), `signal ${index}`).toEqual(column(rows, index));
  });
}

/** wfdb-python rounds physical values to 8 decimals before comparing; so do we. */
function expectPhysicalEqual(record: WfdbRecord, rows: number[][], from: number, to: number) {
  expect(rows.length).toBe(to - from);
  record.header.signals.forEach((_, index) => {
    const values = Array.from(
      physicalSignal(record, index).subarray(from, to),
      (v) => Math.round(v * 1e8) / 1e8,
    );
    expect(values, `signal ${index}`).toEqual(column(rows, index));
  });
}

async function findHeaders(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.hea'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

describe.skipIf(!hasSharedData)(`WFDB conformance on real files (${missingSharedData} otherwise)`, () => {
  it('format 16, whole record, digital: equals rdsamp golden record-1a', async () => {
    const record = await readWfdbRecord(sample('test01_00s'));
    expectDigitalEqual(record, await readNumberTable(golden('record-1a')));
  });

  it('formats 8, 16, 24, 32, 61, 80, 160, 212, 310, 311 in ten files: equal golden record-1f', async () => {
    const record = await readWfdbRecord(sample('binformats.hea'));
    expect(record.header.signals.map((s) => s.format)).toEqual([8, 16, 61, 80, 160, 212, 310, 311, 24, 32]);
    expectDigitalEqual(record, await readNumberTable(golden('record-1f.gz')));
    expect(checksumMismatches(record)).toEqual([]);
  });

  it('FLAC formats 508, 516, 524 in three files: equal golden record-flac, digital and physical', async () => {
    const record = await readWfdbRecord(sample('flacformats'));
    expect(record.header.signals.map((s) => s.format)).toEqual([508, 516, 524]);
    expect(record.sampleCount).toBe(499);
    const rows = await readNumberTable(golden('record-flac.gz'));
    expectDigitalEqual(record, rows);
    expect(checksumMismatches(record)).toEqual([]);
    // Signal 1 starts at its format's invalid marker + 2: the markers themselves would become NaN.
    expect(Array.from(physicalSignal(record, 1).subarray(0, 2))).toEqual([-32766 / 200, -32242 / 200]);
  });

  it('format 212 with an odd sample count, physical: equals golden record-2c', async () => {
    const record = await readWfdbRecord(sample('100_3chan'));
    expect(record.header.signals[0]).toMatchObject({ gain: 200, baseline: 1024, adcZero: 1024, units: 'mV' });
    expectPhysicalEqual(record, await readNumberTable(golden('record-2c')), 0, 999);
    expect(checksumMismatches(record)).toEqual([]);
  });

  it('format 310 from sample 2, digital: equals golden record-2d', async () => {
    const record = await readWfdbRecord(sample('310derive'));
    expectDigitalEqual(record, await readNumberTable(golden('record-2d')), 2);
  });

  it('format 311, samples 1 to 978, physical with gain 200 and no units: equals golden record-2e', async () => {
    const record = await readWfdbRecord(sample('311derive'));
    expectPhysicalEqual(record, await readNumberTable(golden('record-2e')), 1, 978);
  });

  it('reads a record split over two signal files (s0010_re: .dat + .xyz)', async () => {
    const record = await readWfdbRecord(sample('s0010_re'));
    expect(record.header.signals).toHaveLength(15);
    expect(new Set(record.header.signals.map((s) => s.fileName))).toEqual(
      new Set(['s0010_re.dat', 's0010_re.xyz']),
    );
    expect(record.sampleCount).toBe(38400);
    expect(record.digital[findLead(record.header, 'vz')]![0]).toBe(-18);
    expect(record.header.signals[0]).toMatchObject({ gain: 2000, units: 'mV', description: 'i' });
    expect(record.header.comments).toContain('age: 81');
    expect(checksumMismatches(record)).toEqual([]);
  });

  it('honours a byte offset (a103l.mat, format 16+24) and scientific-notation gains', async () => {
    const record = await readWfdbRecord(sample('a103l'));
    expect(record.header.signals[0]).toMatchObject({ format: 16, byteOffset: 24, gain: 7247 });
    expect(record.header.signals[1]!.gain).toBe(10520);
    expect(record.header.signals[2]!.units).toBe('NU');
    expect(Array.from(record.digital, (d) => d[0])).toEqual([-171, 9127, 6042]);
    expect(checksumMismatches(record)).toEqual([]);
  });

  it('reads the MIMIC-like checkpkg record and addresses leads by name (aVF stored before aVL)', async () => {
    const record = await readWfdbRecord(join(sharedData, 'wfdb-c-bemoody/checkpkg/expected/test'));
    expect(record.header).toMatchObject({ samplingFrequency: 500, sampleCount: 5000, baseTime: '0:01' });
    expect(findLead(record.header, 'aVF')).toBe(4);
    expect(findLead(record.header, 'aVL')).toBe(5);
    expect(findLead(record.header, 'AVL')).toBe(5);
    expect(record.digital[5]![0]).toBe(-16);
    expect(physicalSignal(record, 'aVL')[0]).toBeCloseTo(-16 / 200, 12);
    expect(checksumMismatches(record)).toEqual([]);
  });

  it('parses tab-separated GE MUSE headers with a base date', async () => {
    const record = await readWfdbRecord(join(sharedData, 'egm-shiva-r/inst/extdata/muse-sinus.hea'));
    expect(record.header).toMatchObject({
      baseTime: '22:41:16',
      baseDate: '29/04/2023',
      samplingFrequency: 500,
    });
    expect(record.header.signals.map((s) => s.description)).toEqual([
      'I',
      'II',
      'III',
      'AVF',
      'AVL',
      'AVR',
      'V1',
      'V2',
      'V3',
      'V4',
      'V5',
      'V6',
    ]);
    expect(findLead(record.header, 'aVF')).toBe(3);
    expect(checksumMismatches(record)).toEqual([]);
  });

  it('refuses the broken LUDB record whose header names 1.dat with a clear error', async () => {
    const headerFile = join(sharedData, 'egm-shiva-r/inst/extdata/ludb-ecg.hea');
    const error = await readWfdbRecord(headerFile).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WfdbInputError);
    expect((error as WfdbInputError).problem).toBe('missing-signal-file');
    expect((error as WfdbInputError).message).toContain(headerFile);
    expect((error as WfdbInputError).message).toContain('record 1');
    expect((error as WfdbInputError).message).toContain('1.dat');
  });

  it('decodes every record in the shared data with matching checksums, or refuses it with a reason', async () => {
    const outcomes: Record<string, string> = {};
    for (const header of await findHeaders(sharedData)) {
      const name = relative(sharedData, header);
      try {
        const record = await readWfdbRecord(header);
        const mismatches = checksumMismatches(record);
        outcomes[name] = mismatches.length === 0 ? 'ok' : `checksum mismatch ${JSON.stringify(mismatches)}`;
      } catch (error) {
        if (!(error instanceof WfdbInputError)) throw error;
        outcomes[name] = error.problem;
      }
    }
    expect(outcomes).toEqual({
      'egm-shiva-r/inst/extdata/ludb-ecg.hea': 'missing-signal-file',
      'egm-shiva-r/inst/extdata/muse-sinus.hea': 'ok',
      'wfdb-c-bemoody/checkpkg/expected/test.hea': 'ok',
      'wfdb-c-bemoody/data/100s.hea': 'ok',
      'wfdb-python/sample-data/100_3chan.hea': 'ok',
      'wfdb-python/sample-data/3000003_0003.hea': 'ok',
      'wfdb-python/sample-data/310derive.hea': 'ok',
      'wfdb-python/sample-data/311derive.hea': 'ok',
      'wfdb-python/sample-data/a103l.hea': 'ok',
      'wfdb-python/sample-data/binformats.hea': 'ok',
      'wfdb-python/sample-data/flacformats.hea': 'ok',
      'wfdb-python/sample-data/s0010_re.hea': 'ok',
      'wfdb-python/sample-data/test01_00s.hea': 'ok',
    });
  });
});
