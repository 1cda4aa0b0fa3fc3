import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIMIC_LEAD_ORDER } from '@enecg/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLASS_STATEMENTS, generateSynthetic, type SynthSummary } from '../src/index.ts';
import {
  decodeRecord,
  HAS_SHARED_DATA,
  NEEDS_SHARED_DATA,
  readTable,
  SHARED_DATA,
  type Table,
} from './helpers.ts';

/** One explicit pattern per column of the MIMIC-IV-ECG v1.0 CSVs; the real rows must pass them too. */
const INT = /^-?\d+$/;
const SUBJECT = /^1\d{7}$/;
const STUDY_V1 = /^4\d{7}$/;
const TIME_V1 = /^2[12]\d\d-[01]\d-[0-3]\d [0-2]\d:[0-5]\d:00$/;
const TEXT_OR_EMPTY = /^.*$/;
const MEASUREMENT = /^-?\d{1,5}$/;
const V1_SCHEMAS: Record<string, Record<string, RegExp>> = {
  'record_list.csv': {
    subject_id: SUBJECT,
    study_id: STUDY_V1,
    file_name: STUDY_V1,
    ecg_time: TIME_V1,
    path: /^files\/p1\d{3}\/p1\d{7}\/s4\d{7}\/4\d{7}$/,
  },
  'machine_measurements.csv': {
    subject_id: SUBJECT,
    study_id: STUDY_V1,
    cart_id: INT,
    ecg_time: TIME_V1,
    ...Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`report_${i}`, TEXT_OR_EMPTY])),
    bandwidth: /^\d+(\.\d+)?-\d+ Hz$/,
    filtering: /^.+$/,
    rr_interval: MEASUREMENT,
    p_onset: MEASUREMENT,
    p_end: MEASUREMENT,
    qrs_onset: MEASUREMENT,
    qrs_end: MEASUREMENT,
    t_end: MEASUREMENT,
    p_axis: MEASUREMENT,
    qrs_axis: MEASUREMENT,
    t_axis: MEASUREMENT,
  },
  'waveform_note_links.csv': {
    subject_id: SUBJECT,
    study_id: STUDY_V1,
    waveform_path: /^files\/p1\d{3}\/p1\d{7}\/s4\d{7}\/4\d{7}$/,
    note_id: /^1\d{7}-EK-\d+$/,
    note_seq: INT,
    charttime: TIME_V1,
  },
};

function expectRowsMatch(table: Table, schema: Record<string, RegExp>, name: string): void {
  expect(table.header, name).toEqual(Object.keys(schema));
  for (const row of table.rows) {
    for (const [column, pattern] of Object.entries(schema)) {
      if (!pattern.test(row[column]!))
        throw new Error(`${name} ${column}: '${row[column]}' does not match ${pattern}`);
    }
  }
}

/** The coarse type of a cell, to compare a generated column with what the real column holds. */
function cellType(cell: string): string {
  if (cell === '') return 'empty';
  if (/^-?\d+$/.test(cell)) return 'int';
  if (/^-?\d+\.\d+$/.test(cell)) return 'decimal';
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(cell)) return 'datetime';
  if (/^\d{4}-\d\d-\d\d$/.test(cell)) return 'date';
  return 'text';
}

function columnTypes(table: Table): Map<string, Set<string>> {
  const types = new Map(table.header.map((c) => [c, new Set<string>()]));
  for (const row of table.rows) for (const c of table.header) types.get(c)!.add(cellType(row[c]!));
  return types;
}

/** The documented rule that maps report statements back to the 15 classes. */
function classOfReport(statements: string[]): number {
  if (statements.includes(CLASS_STATEMENTS[11]!)) return 11;
  if (statements.includes(CLASS_STATEMENTS[10]!)) return 10;
  for (const statement of statements) {
    const index = CLASS_STATEMENTS.indexOf(statement);
    if (index >= 0) return index;
  }
  return 14;
}

const HOUR = 3_600_000;
const parseTime = (text: string): number => Date.parse(`${text.replace(' ', 'T')}Z`);

// Generous timeouts: the machine these run on is shared and often heavily loaded.
describe('a generated MIMIC-IV-ECG v1.0 dataset', { timeout: 60_000 }, () => {
  let out: string;
  let summary: SynthSummary;
  const tables: Record<string, Table> = {};

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'enecg-synth-v1-'));
    summary = await generateSynthetic({ subjects: 20, outDir: out, seed: 11 });
    for (const name of [
      'record_list.csv',
      'machine_measurements.csv',
      'waveform_note_links.csv',
      'ground_truth.csv',
      'hosp/patients.csv.gz',
      'hosp/labevents.csv.gz',
      'hosp/d_labitems.csv.gz',
      'hosp/admissions.csv.gz',
    ]) {
      tables[name] = await readTable(join(out, name));
    }
  }, 60_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('summarises what it wrote', () => {
    expect(summary.subjects).toBe(20);
    expect(summary.records).toBe(tables['record_list.csv']!.rows.length);
    expect(summary.records).toBeGreaterThan(20);
    expect(summary.classCounts.reduce((a, b) => a + b, 0)).toBe(summary.records);
    expect(Object.keys(summary.sha256)).toHaveLength(8);
  });

  it('writes the ECG CSVs with the columns, order and cell formats of MIMIC-IV-ECG v1.0', () => {
    for (const [name, schema] of Object.entries(V1_SCHEMAS)) expectRowsMatch(tables[name]!, schema, name);
    const links = tables['waveform_note_links.csv']!;
    const records = tables['record_list.csv']!;
    expect(links.rows.length).toBeLessThan(records.rows.length);
    for (const row of records.rows) {
      expect(row.path).toBe(
        `files/p${row.subject_id!.slice(0, 4)}/p${row.subject_id}/s${row.study_id}/${row.study_id}`,
      );
    }
  });

  it.skipIf(!HAS_SHARED_DATA)(
    `validates its column patterns against the real v1.0 rows ${NEEDS_SHARED_DATA}`,
    async () => {
      for (const [name, schema] of Object.entries(V1_SCHEMAS)) {
        const real = await readTable(join(SHARED_DATA, 'mimic-iv-ecg-v1.0-ecgfm', name));
        expectRowsMatch(real, schema, `real ${name}`);
        expect(tables[name]!.lines[0]).toBe(real.lines[0]);
      }
    },
  );

  it.skipIf(!HAS_SHARED_DATA)(
    `writes hosp tables whose columns hold what the real demo columns hold ${NEEDS_SHARED_DATA}`,
    async () => {
      for (const name of ['patients', 'labevents', 'd_labitems', 'admissions']) {
        const real = await readTable(join(SHARED_DATA, 'mimic-iv-demo-2.2', 'hosp', `${name}.csv.gz`));
        const generated = tables[`hosp/${name}.csv.gz`]!;
        expect(generated.header, name).toEqual(real.header);
        const realTypes = columnTypes(real);
        for (const [column, types] of columnTypes(generated)) {
          for (const type of types) {
            if (!realTypes.get(column)!.has(type))
              throw new Error(`${name}.${column}: ${type} never occurs in the real table`);
          }
        }
      }
    },
  );

  it('writes potassium results like the real labevents: items, units, ranges, flags and redacted values', () => {
    const labs = tables['hosp/labevents.csv.gz']!.rows;
    const potassium = labs.filter((r) => r.itemid === '50971' || r.itemid === '50822');
    expect(potassium.length).toBeGreaterThan(10);
    expect(labs.length).toBeGreaterThan(potassium.length);
    for (const row of potassium) {
      expect(row.valueuom).toBe('mEq/L');
      expect(['', 'abnormal']).toContain(row.flag);
      if (row.valuenum === '') continue;
      const value = Number(row.valuenum);
      const outside = value < Number(row.ref_range_lower) || value > Number(row.ref_range_upper);
      expect(row.flag === 'abnormal').toBe(outside);
      if (row.value !== '___') expect(Number(row.value)).toBe(value);
      expect(row.priority).toMatch(row.itemid === '50822' ? /^$/ : /^(STAT|ROUTINE)$/);
    }
    const items = new Set(tables['hosp/d_labitems.csv.gz']!.rows.map((r) => `${r.itemid}:${r.label}`));
    expect(items).toContain('50971:Potassium');
    expect(items).toContain('50822:Potassium, Whole Blood');
  });

  it('writes format-16 records with correct initial values, checksums and MIMIC lead order', async () => {
    for (const row of tables['record_list.csv']!.rows) {
      const record = await decodeRecord(join(out, row.path!));
      expect(record.recordLine.slice(0, 4)).toEqual([row.study_id, '12', '500', '5000']);
      const [date, time] = row.ecg_time!.split(' ');
      const [y, mo, d] = date!.split('-');
      expect(record.recordLine.slice(4)).toEqual([time, `${d}/${mo}/${y}`]);
      expect(record.datBytes).toBe(12 * 5000 * 2);
      expect(record.comments).toEqual([`# <subject_id>: ${row.subject_id}`]);
      record.signalLines.forEach((fields, lead) => {
        expect(fields.slice(0, 5)).toEqual([`${row.study_id}.dat`, '16', '200.0(0)/mV', '16', '0']);
        const samples = record.signals[lead]!;
        expect(Number(fields[5])).toBe(samples[0]);
        let sum = 0;
        for (const v of samples) sum += v;
        expect(Number(fields[6])).toBe(((sum % 65536) + 65536) % 65536);
        expect(fields[7]).toBe('0');
        expect(fields[8]).toBe(MIMIC_LEAD_ORDER[lead]);
        expect(samples.includes(-32768)).toBe(false);
      });
      // Limb leads are derived from two measured leads, as the cart does.
      const [lead1, lead2, lead3] = record.signals;
      for (let i = 0; i < 5000; i += 97)
        expect(Math.abs(lead3![i]! - (lead2![i]! - lead1![i]!))).toBeLessThanOrEqual(1);
    }
  });

  it.skipIf(!HAS_SHARED_DATA)(
    `names the leads in the order of the closest public MIMIC-like record ${NEEDS_SHARED_DATA}`,
    async () => {
      const real = await decodeRecord(join(SHARED_DATA, 'wfdb-c-bemoody', 'checkpkg', 'expected', 'test'));
      expect(real.signalLines.map((f) => f[8])).toEqual([...MIMIC_LEAD_ORDER]);
      expect(real.recordLine.slice(1, 4)).toEqual(['12', '500', '5000']);
    },
  );

  it('writes report statements from which the documented rule recovers every class', () => {
    const truth = new Map(tables['ground_truth.csv']!.rows.map((r) => [r.study_id, r]));
    let withGap = 0;
    for (const row of tables['machine_measurements.csv']!.rows) {
      const cells = Array.from({ length: 18 }, (_, i) => row[`report_${i}`]!);
      const filled = cells.filter((c) => c !== '');
      const lastFilled = cells.map((c) => c !== '').lastIndexOf(true);
      if (lastFilled + 1 > filled.length) withGap++;
      expect(classOfReport(filled)).toBe(Number(truth.get(row.study_id)!.report_label));
    }
    expect(withGap).toBeGreaterThan(0);
  });

  it('keeps ground truth consistent with the tables: rr_interval, age, gender and nearest potassium', () => {
    const measurements = new Map(tables['machine_measurements.csv']!.rows.map((r) => [r.study_id, r]));
    const records = new Map(tables['record_list.csv']!.rows.map((r) => [r.study_id, r]));
    const patients = new Map(tables['hosp/patients.csv.gz']!.rows.map((r) => [r.subject_id, r]));
    const potassium = tables['hosp/labevents.csv.gz']!.rows.filter(
      (r) => (r.itemid === '50971' || r.itemid === '50822') && r.valuenum !== '',
    );
    let matched = 0;
    for (const truth of tables['ground_truth.csv']!.rows) {
      const rr = measurements.get(truth.study_id)!.rr_interval;
      expect(truth.rr_interval).toBe(rr === '29999' ? '' : rr);
      const ecgTime = records.get(truth.study_id)!.ecg_time!;
      const patient = patients.get(truth.subject_id)!;
      const age = Number(patient.anchor_age) + Number(ecgTime.slice(0, 4)) - Number(patient.anchor_year);
      expect(Number(truth.age)).toBe(Math.min(91, age));
      expect(truth.gender).toBe(patient.gender === 'F' ? '1' : '0');

      const candidates = potassium
        .filter((r) => r.subject_id === truth.subject_id)
        .map((r) => ({ row: r, distance: Math.abs(parseTime(r.charttime!) - parseTime(ecgTime)) }))
        .filter((c) => c.distance <= 12 * HOUR)
        .sort((a, b) => a.distance - b.distance);
      const nearest = candidates[0]?.row;
      if (candidates.length > 1) expect(candidates[1]!.distance).toBeGreaterThan(candidates[0]!.distance);
      expect(truth.potassium).toBe(nearest ? String(Number(nearest.valuenum)) : '');
      expect(truth.flag).toBe(nearest ? (nearest.flag === 'abnormal' ? '1' : '0') : '');
      if (nearest) {
        matched++;
        const value = Number(nearest.valuenum);
        const expected =
          value < Number(nearest.ref_range_lower) ? 0 : value > Number(nearest.ref_range_upper) ? 2 : 1;
        expect(truth.potassium_class).toBe(String(expected));
      } else expect(truth.potassium_class).toBe('');
    }
    expect(matched).toBeGreaterThan(0);
    expect(matched).toBeLessThan(tables['ground_truth.csv']!.rows.length);
  });

  it('places most potassium draws within 3 hours of an ECG and some more than 48 hours from all', () => {
    const ecgTimes = new Map<string, number[]>();
    for (const r of tables['record_list.csv']!.rows) {
      ecgTimes.set(r.subject_id!, [...(ecgTimes.get(r.subject_id!) ?? []), parseTime(r.ecg_time!)]);
    }
    const distances = tables['hosp/labevents.csv.gz']!.rows.filter(
      (r) => r.itemid === '50971' || r.itemid === '50822',
    ).map((r) => Math.min(...ecgTimes.get(r.subject_id!)!.map((t) => Math.abs(t - parseTime(r.charttime!)))));
    const near = distances.filter((d) => d <= 3 * HOUR).length;
    const far = distances.filter((d) => d > 48 * HOUR).length;
    expect(near).toBeGreaterThan(distances.length / 2);
    expect(far).toBeGreaterThan(0);
  });

  it('writes nothing but the dataset into the output folder', async () => {
    expect((await readdir(out)).sort()).toEqual([
      'files',
      'ground_truth.csv',
      'hosp',
      'machine_measurements.csv',
      'record_list.csv',
      'waveform_note_links.csv',
    ]);
    expect((await stat(join(out, 'files'))).isDirectory()).toBe(true);
  });
});
