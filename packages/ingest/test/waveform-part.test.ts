import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sqlString, withDuckDB } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { readParquetFile } from '../src/parquet.ts';
import { STORED_INVALID, type StoredWaveform, storedWaveforms } from '../src/tables.ts';
import { type WaveformPartLayout, WaveformPartWriter } from '../src/waveform-part.ts';

/** Seeded samples: ECG-like slow waves, noise, steps to both int16 extremes, invalid markers. */
function seededLead(length: number, seed: number): Int16Array {
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  return Int16Array.from({ length }, (_, i) => {
    const roll = next();
    if (roll < 0.02) return STORED_INVALID;
    if (roll < 0.03) return 32767;
    if (roll < 0.04) return -32767;
    return Math.round(300 * Math.sin(i / 25) + 40 * (next() - 0.5));
  });
}

function record(studyId: number, lengths: number[], names = lengths.map((_, i) => `L${i}`)): StoredWaveform {
  return {
    studyId,
    subjectId: 10_000_000 + studyId,
    samplingRate: 500 + (studyId % 3) * 0.5,
    sampleCount: lengths[0] ?? 0,
    leadNames: names,
    units: lengths.map((_, i) => (i % 2 === 0 ? 'mV' : 'uV')),
    gains: lengths.map((_, i) => 200 + i * 0.25),
    baselines: lengths.map((_, i) => i * 7 - 20),
    digital: lengths.map((length, i) => seededLead(length, studyId * 31 + i)),
  };
}

/** Awkward lengths: empty, one sample, block and miniblock boundaries (128, 32), odd sizes. */
const RECORDS: StoredWaveform[] = [
  record(40_000_001, [5000, 5000, 5000], ['I', 'aVF', 'aVL']),
  record(40_000_002, [0, 1, 2]),
  record(40_000_003, [127, 128, 129, 33, 31, 32]),
  record(40_000_004, [0]),
  record(40_000_005, [1001, 0, 1003]),
  record(40_000_006, [2 ** 12 + 5]),
  {
    ...record(40_000_007, [4, 300]),
    // All-invalid and constant leads; the largest possible steps (-32768 <-> 32767).
    digital: [
      Int16Array.of(STORED_INVALID, STORED_INVALID, STORED_INVALID, STORED_INVALID),
      alternating(300),
    ],
  },
  record(
    40_000_008,
    Array.from({ length: 12 }, () => 5000),
  ),
];

function alternating(length: number): Int16Array {
  return Int16Array.from({ length }, (_, i) => (i % 2 === 0 ? -32768 : 32767));
}

async function writePart(layout?: WaveformPartLayout): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'enecg-waveform-part-')), 'part.parquet');
  const writer = new WaveformPartWriter(layout);
  for (const record of RECORDS) writer.append(record);
  const written = await writer.finish(path);
  expect(written.rows).toBe(RECORDS.reduce((n, r) => n + r.digital.length, 0));
  return path;
}

const LAYOUTS: [string, WaveformPartLayout | undefined][] = [
  ['default layout', undefined],
  ['a row group per 3 records, pages of at most 700 samples', { rowGroupRecords: 3, pageValues: 700 }],
  ['a row group per record, a page per lead', { rowGroupRecords: 1, pageValues: 1 }],
];

describe('hand-written waveform part writer, read back by real readers', () => {
  for (const [name, layout] of LAYOUTS) {
    it(`parquet-wasm (readWaveforms' reader) returns exactly what was written: ${name}`, async () => {
      const path = await writePart(layout);
      const table = await readParquetFile(path);
      expect(table.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`)).toEqual([
        'study_id:Int64:false',
        'subject_id:Int64:false',
        'lead_index:Int32:false',
        'lead_name:Utf8:true',
        'sampling_rate:Float64:false',
        'units:Utf8:true',
        'gain:Float64:false',
        'baseline:Int32:false',
        'samples:List<Int16>:true',
      ]);
      // Records without leads have no rows; storedWaveforms regroups rows by study.
      const expected = RECORDS.filter((r) => r.digital.length > 0);
      const actual = [...storedWaveforms(table)];
      expect(actual.map((r) => r.studyId)).toEqual(expected.map((r) => r.studyId));
      actual.forEach((got, i) => {
        const want = expected[i]!;
        expect({ ...got, digital: undefined, sampleCount: undefined }).toEqual({
          ...want,
          digital: undefined,
          sampleCount: undefined,
        });
        expect(got.digital.map((lead) => Array.from(lead))).toEqual(
          want.digital.map((lead) => Array.from(lead)),
        );
      });
    });

    it(`DuckDB reads the same rows, types and study_id statistics: ${name}`, async () => {
      const path = await writePart(layout);
      const file = sqlString(path);
      await withDuckDB(async (c) => {
        const types = await queryRows(c, `DESCRIBE SELECT * FROM read_parquet(${file})`);
        expect(types.map((t) => `${t.column_name} ${t.column_type}`)).toEqual([
          'study_id BIGINT',
          'subject_id BIGINT',
          'lead_index INTEGER',
          'lead_name VARCHAR',
          'sampling_rate DOUBLE',
          'units VARCHAR',
          'gain DOUBLE',
          'baseline INTEGER',
          'samples SMALLINT[]',
        ]);
        const rows = await queryRows(
          c,
          `SELECT study_id, lead_index, lead_name, units, gain, baseline, sampling_rate, samples
           FROM read_parquet(${file})`,
        );
        const expected = RECORDS.flatMap((r) =>
          r.digital.map((lead, i) => ({
            study_id: String(r.studyId),
            lead_index: i,
            lead_name: r.leadNames[i],
            units: r.units[i],
            gain: r.gains[i],
            baseline: r.baselines[i],
            sampling_rate: r.samplingRate,
            samples: Array.from(lead),
          })),
        );
        expect(rows).toEqual(expected);
        // The README's one-lead query.
        const [aVL] = await queryRows(
          c,
          `SELECT samples FROM read_parquet(${file}) WHERE study_id = 40000001 AND lead_name = 'aVL'`,
        );
        expect(aVL!.samples).toEqual(Array.from(RECORDS[0]!.digital[2]!));
        const groups = await queryRows(
          c,
          `SELECT row_group_id, stats_min_value, stats_max_value, row_group_num_rows
           FROM parquet_metadata(${file}) WHERE path_in_schema = 'study_id' ORDER BY row_group_id`,
        );
        const perGroup = layout?.rowGroupRecords ?? 64;
        const expectedGroups: { min: number; max: number; rows: number }[] = [];
        for (let i = 0; i < RECORDS.length; i += perGroup) {
          const slice = RECORDS.slice(i, i + perGroup).filter((r) => r.digital.length > 0);
          if (slice.length === 0) continue;
          expectedGroups.push({
            min: Math.min(...slice.map((r) => r.studyId)),
            max: Math.max(...slice.map((r) => r.studyId)),
            rows: slice.reduce((n, r) => n + r.digital.length, 0),
          });
        }
        expect(
          groups.map((g) => ({
            min: Number(g.stats_min_value),
            max: Number(g.stats_max_value),
            rows: Number(g.row_group_num_rows),
          })),
        ).toEqual(expectedGroups);
      });
    });
  }

  it('a writer reused across parts writes each part exactly as a fresh writer does', () => {
    const reused = new WaveformPartWriter({ rowGroupRecords: 2, pageValues: 3000 });
    const first = reused.encodeToBuffer(RECORDS.slice(4));
    const second = reused.encodeToBuffer(RECORDS);
    const fresh = new WaveformPartWriter({ rowGroupRecords: 2, pageValues: 3000 });
    expect(Buffer.from(second).equals(Buffer.from(fresh.encodeToBuffer(RECORDS)))).toBe(true);
    expect(Buffer.from(first).equals(Buffer.from(fresh.encodeToBuffer(RECORDS.slice(4))))).toBe(true);
  });

  it('append copies what it needs: lead arrays overwritten right after append change nothing', async () => {
    const layout = { rowGroupRecords: 3, pageValues: 700 };
    const expected = new WaveformPartWriter(layout).encodeToBuffer(RECORDS);
    const writer = new WaveformPartWriter(layout);
    const scratch = new Int16Array(60_000);
    for (const record of RECORDS) {
      // Each record's leads live in one scratch buffer that the next record reuses, as in ingest.
      let offset = 0;
      const digital = record.digital.map((lead) => {
        const view = scratch.subarray(offset, offset + lead.length);
        view.set(lead);
        offset += lead.length;
        return view;
      });
      writer.append({ ...record, digital });
      scratch.fill(12_345);
    }
    const path = join(await mkdtemp(join(tmpdir(), 'enecg-waveform-part-')), 'part.parquet');
    const written = await writer.finish(path);
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(expected))).toBe(true);
    expect(written.bytes).toBe(expected.length);
  });
});
