import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ingest, listQuarantine, listRecords, parseWfdbHeader, WfdbInputError } from '../src/index.ts';
import { seededSignals } from './mimic-source.ts';
import { writeFormat16Record } from './wfdb-writer.ts';

const LEADS = ['I', 'II', 'III', 'aVR', 'aVF', 'aVL', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];

/** A record whose header says what the case needs: its gain, units and sampling frequency. */
async function writeRecord(source: string, studyId: number, header: { gain?: number; rate?: string }) {
  const folder = join(source, 'files', 'p1000', `p10000001`, `s${studyId}`);
  await writeFormat16Record(folder, String(studyId), {
    samplingRate: 500,
    leadNames: LEADS,
    signals: seededSignals(studyId, 12).map((signal) => signal.slice(0, 500)),
    gain: header.gain,
  });
  if (header.rate !== undefined) {
    const file = join(folder, `${studyId}.hea`);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/^(\d+ 12) 500 /, `$1 ${header.rate} `));
  }
  return `files/p1000/p10000001/s${studyId}/${studyId}`;
}

describe('ingest refuses implausible calibration and malformed listing rows, naming the field', () => {
  it('quarantines gain and sampling frequency outside ECG bounds and rows with the wrong number of cells', async () => {
    const source = await mkdtemp(join(tmpdir(), 'enecg-holes-src-'));
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-holes-wh-'));
    const good = await writeRecord(source, 41000001, {});
    const hugeRate = await writeRecord(source, 41000002, { rate: '1e308' });
    const tinyGain = await writeRecord(source, 41000003, { gain: 1e-320 });
    const negativeGain = await writeRecord(source, 41000004, { gain: -200 });
    const slowRate = await writeRecord(source, 41000005, { rate: '2' });
    const infiniteRate = await writeRecord(source, 41000006, { rate: '1e400' });
    const rows = [
      'subject_id,study_id,file_name,ecg_time,path',
      `10000001,41000001,41000001,2180-07-23 08:44:00,${good}`,
      `10000001,41000002,41000002,2180-07-23 08:44:00,${hugeRate}`,
      `10000001,41000003,41000003,2180-07-23 08:44:00,${tinyGain}`,
      `10000001,41000004,41000004,2180-07-23 08:44:00,${negativeGain}`,
      `10000001,41000005,41000005,2180-07-23 08:44:00,${slowRate}`,
      `10000001,41000006,41000006,2180-07-23 08:44:00,${infiniteRate}`,
      `10000001,41000007,41000007,2180-07-23 08:44:00,${good},extra,cells,here`,
      '10000001,41000008,41000008',
    ];
    await writeFile(join(source, 'record_list.csv'), `${rows.join('\n')}\n`);
    const summary = await ingest({ source, warehouse, runId: 'holes' });
    expect(summary).toMatchObject({ listed: 8, ingested: 1, quarantined: 7 });
    expect((await listRecords(warehouse)).map((r) => r.studyId)).toEqual([41000001]);
    const quarantine = new Map((await listQuarantine(warehouse)).map((q) => [q.studyId, q]));
    expect(quarantine.get(41000002)).toMatchObject({
      field: 'sampling frequency',
      reason: '1e+308 Hz is outside the ECG range 50-20000 Hz',
    });
    expect(quarantine.get(41000003)).toMatchObject({
      field: 'signal 0 gain',
      reason: expect.stringMatching(/^lead I has gain 1e-320 adu\/mV, outside 0.01-100000000 adu\/mV$/),
    });
    expect(quarantine.get(41000004)).toMatchObject({ field: 'signal 0 gain' });
    expect(quarantine.get(41000005)).toMatchObject({ field: 'sampling frequency' });
    expect(quarantine.get(41000006)).toMatchObject({
      problem: 'unparsable-header',
      field: 'sampling frequency',
      reason: 'expected a finite positive number, got "1e400"',
    });
    expect(quarantine.get(41000007)).toMatchObject({
      problem: 'bad-listing',
      file: 'record_list.csv',
      field: 'line 8 columns',
      reason: 'row has 8 cells, the header has 5 columns',
    });
    expect(quarantine.get(41000008)).toMatchObject({
      problem: 'bad-listing',
      field: 'line 9 columns',
      reason: 'row has 3 cells, the header has 5 columns',
    });
  }, 60_000);
});

/** Header lines built from the tokens a WFDB header has, some valid and some not. */
const token = fc.oneof(
  fc.constantFrom(
    '500',
    '0',
    '-1',
    '1e308',
    '1e400',
    'NaN',
    'Infinity',
    '200.0(0)/mV',
    '-200/mV',
    '1e-320/uV',
  ),
  fc.constantFrom('16', '212', '16x2', '16:3+512', '999', 'x.dat', '12', '4', 'I', 'II', '500/1000(7)', '#'),
  fc.string({ maxLength: 12 }),
  fc.double().map(String),
  fc.integer().map(String),
);
const headerText = fc.oneof(
  fc
    .array(
      fc.array(token, { maxLength: 10 }).map((tokens) => tokens.join(' ')),
      { maxLength: 6 },
    )
    .map((lines) => lines.join('\n')),
  fc
    .tuple(
      fc.integer({ min: 0, max: 4 }),
      token,
      fc.array(fc.array(token, { maxLength: 9 }), { maxLength: 4 }),
    )
    .map(
      ([signals, rate, lines]) =>
        `r ${signals} ${rate} 5000\n${lines.map((tokens) => ['r.dat', ...tokens].join(' ')).join('\n')}`,
    ),
);

describe('fuzzing the WFDB header parser', () => {
  it('refuses with a named field or returns a header whose numbers are finite; it never crashes', () => {
    fc.assert(
      fc.property(headerText, (text) => {
        let header: ReturnType<typeof parseWfdbHeader>;
        try {
          header = parseWfdbHeader(text, 'fuzz.hea');
        } catch (error) {
          expect(error).toBeInstanceOf(WfdbInputError);
          expect((error as WfdbInputError).location.field).toBeTruthy();
          return;
        }
        expect(header.samplingFrequency > 0 && Number.isFinite(header.samplingFrequency)).toBe(true);
        for (const signal of header.signals) {
          expect(Number.isFinite(signal.gain) && signal.gain !== 0).toBe(true);
          expect(Number.isFinite(signal.baseline)).toBe(true);
        }
      }),
      { numRuns: 3000, seed: 19 },
    );
  });
});
