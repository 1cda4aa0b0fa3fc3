import { existsSync } from 'node:fs';
import { mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deriveLabels, type LabelRow, type LabelSummary, readLabels } from '../src/index.ts';

const SHARED_DATA = process.env.ENECG_SHARED_DATA ?? resolve(import.meta.dirname, '../../../../shared/data');
const HOSP = join(SHARED_DATA, 'mimic-iv-demo-2.2/hosp');
const ECG_V1 = join(SHARED_DATA, 'mimic-iv-ecg-v1.0-ecgfm');
const ECG_DEMO_EXCERPT = join(SHARED_DATA, 'mimic-iv-ecg-demo-0.1-excerpt/record_list.excerpt.csv');
const present = existsSync(HOSP) && existsSync(ECG_V1) && existsSync(ECG_DEMO_EXCERPT);
if (!present) console.warn(`skipping real MIMIC tests: ${SHARED_DATA} (or ENECG_SHARED_DATA) is absent`);

async function warehouse(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'enecg-labels-real-')), 'warehouse');
}

describe.skipIf(!present)('real MIMIC-IV-ECG v1.0 rows with the MIMIC-IV demo hosp tables', () => {
  let summary: LabelSummary;
  let rows: LabelRow[];

  beforeAll(async () => {
    const out = await warehouse();
    summary = await deriveLabels({ source: ECG_V1, hosp: HOSP, warehouse: out });
    rows = await readLabels(out);
  });

  it('labels the one real study from its report, measurements, patient and labs', () => {
    // machine_measurements: Sinus rhythm | Possible right atrial abnormality | (empty) | Borderline ECG, RR 659.
    // patients: F, anchor_age 52 in 2180. Nearest potassium (2 h 05 min before the 08:44 ECG): value '___',
    // valuenum 6.7, range 3.3-5.1, flag abnormal.
    expect(rows).toEqual([
      {
        studyId: 40689238,
        subjectId: 10000032,
        rrInterval: 659,
        age: 52,
        gender: 1,
        flag: 1,
        potassiumClass: 2,
        potassium: 6.7,
        reportLabel: 0,
        reportLabels: [0],
        reportSource: 'machine',
        split: rows[0]!.split,
        fold: rows[0]!.fold,
        labelVersion: summary.labelVersion,
      },
    ]);
  });

  it('hashes each source file as MIMIC-IV demo SHA256SUMS.txt publishes it', async () => {
    const sums = await readFile(join(HOSP, '../SHA256SUMS.txt'), 'utf8');
    for (const table of ['patients', 'labevents', 'd_labitems'] as const) {
      expect(sums).toContain(`${summary.sources[table]!.sha256} hosp/${table}.csv.gz`);
    }
    expect(summary.sources.waveform_note_links).not.toBeNull();
    expect(summary.potassiumItems).toEqual({ '50971': 'Potassium', '50822': 'Potassium, Whole Blood' });
  });
});

describe.skipIf(!present)(
  'real MIMIC-IV-ECG demo record_list (31 ECGs) with the MIMIC-IV demo hosp tables',
  () => {
    let summary: LabelSummary;
    let byStudy: Map<number, LabelRow>;

    beforeAll(async () => {
      // The demo ships record_list.csv only; the excerpt is linked under that name, not copied.
      const source = await mkdtemp(join(tmpdir(), 'enecg-labels-demo-'));
      await symlink(ECG_DEMO_EXCERPT, join(source, 'record_list.csv'));
      const out = await warehouse();
      summary = await deriveLabels({ source, hosp: HOSP, warehouse: out });
      byStudy = new Map((await readLabels(out)).map((row) => [row.studyId, row]));
    });

    it('labels every ECG of record_list', () => {
      expect(byStudy.size).toBe(31);
      expect(summary.statistics.subjects).toBe(7);
      expect(summary.sources.machine_measurements).toBeNull();
    });

    // Checked by hand against the raw rows (potassium itemids 50971/50822 within 12 h of ecg_time).
    it.each([
      // Nearest is the blood gas 5.8 at 13:06 (3 h 11 min) over the masked chemistry 6.7 at 06:39 (3 h 16 min).
      [100780919, { age: 52, gender: 1, flag: 1, potassiumClass: 2, potassium: 5.8 }],
      // Masked value '___' with valuenum 6.7, 2 h 05 min before.
      [107143276, { age: 52, gender: 1, flag: 1, potassiumClass: 2, potassium: 6.7 }],
      [102511170, { age: 52, gender: 1, flag: 1, potassiumClass: 2, potassium: 6.3 }],
      // Blood gas 3.6 at 6 h 16 min beats the flagged 3.1 at 8 h 46 min.
      [104181053, { age: 81, gender: 1, flag: 0, potassiumClass: 1, potassium: 3.6 }],
      [105362569, { age: 55, gender: 1, flag: 0, potassiumClass: 1, potassium: 4.4 }],
      // anchor_year 2155, ECG in 2152: 80 - 3; and in 2160: 80 + 5.
      [102144047, { age: 77, gender: 1, flag: null, potassiumClass: null, potassium: null }],
      [108394598, { age: 85, gender: 1, flag: 0, potassiumClass: 1, potassium: 4.4 }],
      // Male, anchor_age 64 in 2154, ECG in 2153; no potassium within 12 h.
      [100949996, { age: 63, gender: 0, flag: null, potassiumClass: null, potassium: null }],
    ])('study %i', (studyId, expected) => {
      expect(byStudy.get(studyId)).toMatchObject({ ...expected, rrInterval: null, reportLabel: null });
    });

    it('summarises class balance and missingness', () => {
      const { tasks } = summary.statistics;
      expect(tasks.age.missing).toBe(0);
      expect(tasks.gender.classes).toEqual({ '0': 4, '1': 27 });
      expect(tasks.flag).toMatchObject({ defined: 25, missing: 6, classes: { '0': 22, '1': 3 } });
      expect(tasks.potassium_class.classes).toEqual({ '1': 22, '2': 3 });
      expect(tasks.report_label).toMatchObject({ defined: 0, missingFraction: 1 });
      expect(tasks.rr_interval.missing).toBe(31);
    });

    it('keeps the three ECGs of subject 10000032 in one split', () => {
      const ecgs = [107143276, 102511170, 100780919].map((id) => byStudy.get(id)!);
      expect(new Set(ecgs.map((row) => `${row.split}/${row.fold}`)).size).toBe(1);
    });
  },
);
