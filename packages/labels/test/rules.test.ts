import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { deriveLabels, LABEL_VERSION, type LabelRow, type LabelSummary, readLabels } from '../src/index.ts';
import { ecg, measurement, patient, potassium, writeMiniMimic } from './mini-mimic.ts';

const SUBJECT = 10000032;
const T = '2180-07-23 08:44:00';

/** One ECG per report, study ids from 1; each case states the statements and the expected labels. */
const REPORT_CASES: Array<{ reports: string[]; label: number | null; labels: number[] | null }> = [
  {
    reports: ['Sinus rhythm', 'Possible right atrial abnormality', '', 'Borderline ECG'],
    label: 0,
    labels: [0],
  },
  { reports: ['Sinus bradycardia'], label: 1, labels: [1] },
  { reports: ['Sinus tachycardia', 'Normal ECG'], label: 2, labels: [2] },
  { reports: ['Atrial fibrillation'], label: 3, labels: [3] },
  { reports: ['Sinus rhythm with borderline 1st degree A-V block'], label: 4, labels: [4] },
  { reports: ['Sinus rhythm with 1st degree A-V block'], label: 5, labels: [5] },
  { reports: ['Atrial fibrillation with rapid ventricular response'], label: 6, labels: [6] },
  { reports: ['Sinus arrhythmia'], label: 7, labels: [7] },
  { reports: ['Sinus rhythm with PAC(s)'], label: 8, labels: [8] },
  { reports: ['Ventricular pacing'], label: 9, labels: [9] },
  { reports: ['Sinus rhythm', '', '', '*** Consider acute ST elevation MI ***'], label: 10, labels: [0, 10] },
  {
    reports: ['Warning: Data quality may affect interpretation', 'Sinus rhythm'],
    label: 11,
    labels: [0, 11],
  },
  { reports: ['Sinus rhythm with PVC(s)'], label: 12, labels: [12] },
  {
    reports: ['Possible ectopic atrial rhythm', 'Low QRS voltages in precordial leads'],
    label: 13,
    labels: [13],
  },
  { reports: ['Atrial flutter with 2:1 A-V conduction', 'Abnormal ECG'], label: 14, labels: [14] },
  // Normalisation: case, surrounding space and punctuation, runs of blanks, cells after gaps.
  {
    reports: [
      '',
      '',
      '  SINUS   RHYTHM.  ',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      'Normal ECG',
    ],
    label: 0,
    labels: [0],
  },
  // Precedence: the more specific rhythm wins and the multi-label keeps both.
  {
    reports: ['Atrial fibrillation with rapid ventricular response', 'Atrial fibrillation'],
    label: 6,
    labels: [3, 6],
  },
  { reports: ['Sinus bradycardia', 'Sinus rhythm with 1st degree A-V block'], label: 5, labels: [1, 5] },
  // A statement that only contains a class statement is not that class (whole-statement match).
  { reports: ['Sinus rhythm with marked sinus arrhythmia'], label: 14, labels: [14] },
  { reports: [], label: null, labels: null },
  // Cells that normalise to nothing are no statements.
  { reports: ['***', '   ', '.'], label: null, labels: null },
];

describe('label rules on hand-written MIMIC rows', () => {
  let summary: LabelSummary;
  let rows: Map<number, LabelRow>;

  beforeAll(async () => {
    const paths = await writeMiniMimic({
      recordList: [
        ...REPORT_CASES.map((_, i) => ecg(SUBJECT, i + 1, T)),
        ecg(SUBJECT, 101, T),
        ecg(SUBJECT, 102, T),
        ecg(SUBJECT, 103, T),
        ecg(SUBJECT, 104, T),
        ecg(SUBJECT, 105, T),
        ecg(10000033, 201, '2160-01-01 00:00:00'),
        ecg(10000034, 301, '2150-06-01 12:00:00'),
        ecg(10000035, 401, '2130-03-01 09:00:00'),
      ],
      machineMeasurements: [
        ...REPORT_CASES.map((c, i) => measurement(SUBJECT, i + 1, T, c.reports, 800)),
        measurement(SUBJECT, 101, T, ['Sinus rhythm'], 29999),
        measurement(SUBJECT, 102, T, ['Sinus rhythm'], 199),
        measurement(SUBJECT, 103, T, ['Sinus rhythm'], 200),
        measurement(SUBJECT, 104, T, ['Sinus rhythm'], 3000),
        measurement(SUBJECT, 105, T, ['Sinus rhythm'], ''),
      ],
      patients: [
        patient(SUBJECT, 'F', 52, 2180),
        patient(10000033, 'M', 89, 2155),
        patient(10000034, 'M', 91, 2150),
        // 10000035 has no patients row.
      ],
    });
    summary = await deriveLabels(paths);
    rows = new Map((await readLabels(paths.warehouse)).map((row) => [row.studyId, row]));
  });

  it.each(REPORT_CASES.map((c, i) => [i + 1, c] as const))('study %i: %o', (studyId, expected) => {
    const row = rows.get(studyId)!;
    expect(row.reportLabel).toBe(expected.label);
    expect(row.reportLabels).toEqual(expected.labels);
    expect(row.reportSource).toBe(expected.label === null ? null : 'machine');
  });

  it('makes the 29999 sentinel and RR intervals outside [200, 3000] ms missing', () => {
    expect(rows.get(1)!.rrInterval).toBe(800);
    expect(rows.get(101)!.rrInterval).toBeNull();
    expect(rows.get(102)!.rrInterval).toBeNull();
    expect(rows.get(103)!.rrInterval).toBe(200);
    expect(rows.get(104)!.rrInterval).toBe(3000);
    expect(rows.get(105)!.rrInterval).toBeNull();
  });

  it('shifts anchor_age by the years to the ECG and caps it at 91; codes gender 0 M, 1 F', () => {
    expect([rows.get(1)!.age, rows.get(1)!.gender]).toEqual([52, 1]);
    expect([rows.get(201)!.age, rows.get(201)!.gender]).toEqual([91, 0]); // 89 + 5 years, capped
    expect(rows.get(301)!.age).toBe(91);
    expect([rows.get(401)!.age, rows.get(401)!.gender]).toEqual([null, null]);
  });

  it('leaves the potassium labels missing without a result', () => {
    expect([rows.get(1)!.flag, rows.get(1)!.potassiumClass, rows.get(1)!.potassium]).toEqual([
      null,
      null,
      null,
    ]);
  });

  it('reports class balance and missingness per task', () => {
    const { tasks } = summary.statistics;
    expect(summary.statistics.studies).toBe(REPORT_CASES.length + 8);
    // Missing: the two empty reports and the three ECGs without measurements.
    expect(tasks.report_label.missing).toBe(5);
    expect(tasks.report_label.classes['14']).toBe(2);
    expect(tasks.report_labels.classes['0']).toBe(4 + 5);
    // Missing: sentinel, 199 ms, empty cell, and the three ECGs without measurements.
    expect(tasks.rr_interval.missing).toBe(6);
    expect(tasks.age).toMatchObject({ defined: summary.statistics.studies - 1, max: 91 });
    expect(tasks.flag.defined).toBe(0);
    expect(summary.sources.machine_measurements).not.toBeNull();
    expect(summary.sources.notes).toBeNull();
  });

  it('records the rule text verbatim with its hash and version in the lineage event', async () => {
    const event = JSON.parse(await readFile(summary.lineageEvent, 'utf8'));
    const sql = await readFile(join(import.meta.dirname, '../sql/labels.sql'), 'utf8');
    expect(event.facets.labelRules).toEqual({ version: LABEL_VERSION, sha256: sha256(sql), sql });
    expect(summary.rulesSha256).toBe(sha256(sql));
    expect(event.facets.config).toEqual(summary.config);
    expect(summary.config.potassium).toMatchObject({ windowHours: 12, itemIds: [50971, 50822] });
    expect(sql).toContain(`-- label_version: ${LABEL_VERSION}\n`);
    expect(event.outputs[0]).toMatchObject({ name: 'labels', sha256: summary.output.sha256 });
    expect(event.inputs.map((input: { name: string }) => input.name).sort()).toEqual(
      ['d_labitems', 'labevents', 'machine_measurements', 'patients', 'record_list'].sort(),
    );
  });
});

describe('potassium nearest to the ECG', () => {
  const S = 10000040;
  it('takes the nearest result within the window, uses valuenum behind masked values, and grades it', async () => {
    const paths = await writeMiniMimic({
      recordList: [
        ecg(S, 1, '2150-01-10 12:00:00'),
        ecg(S, 2, '2150-02-10 12:00:00'),
        ecg(S, 3, '2150-03-10 12:00:00'),
        ecg(S, 4, '2150-04-10 12:00:00'),
        ecg(S, 5, '2150-05-10 12:00:00'),
        ecg(S, 6, '2150-06-10 12:00:00'),
        ecg(S, 7, '2150-07-10 12:00:00'),
      ],
      patients: [patient(S, 'M', 60, 2150)],
      labevents: [
        // 1: nearest (2 h after) is a masked value with valuenum, flagged: hyper.
        potassium(S, '2150-01-10 09:00:00', '4.0', '4.0', ''),
        potassium(S, '2150-01-10 14:00:00', '___', '6.7', 'abnormal'),
        // 2: the nearer blood-gas result (50822) wins over chemistry; below range: hypo, flagged.
        potassium(S, '2150-02-10 13:00:00', '3.0', '3.0', 'abnormal', { itemid: 50822 }),
        potassium(S, '2150-02-10 15:00:00', '4.1', '4.1', ''),
        // 3: only results outside the 12 h window: no label.
        potassium(S, '2150-03-09 23:59:00', '4.1', '4.1', ''),
        potassium(S, '2150-03-11 00:01:00', '4.1', '4.1', ''),
        // 4: exactly 12 h before counts; a tie at equal distance prefers the earlier result.
        potassium(S, '2150-04-10 00:00:00', '5.5', '5.5', 'abnormal'),
        potassium(S, '2150-04-11 00:00:00', '3.9', '3.9', ''),
        // 5: another test (sodium) right at the ECG is ignored; no reference range -> default range.
        [
          '1',
          String(S),
          '',
          '1',
          '50983',
          '',
          '2150-05-10 12:00:00',
          '',
          '140',
          '140',
          'mEq/L',
          '133',
          '145',
          '',
          '',
          '',
        ],
        potassium(S, '2150-05-10 11:00:00', '5.0', '5.0', '', { lower: '', upper: '' }),
        // 6: no number and no flag says nothing and is skipped; the next one is used.
        potassium(S, '2150-06-10 12:00:00', '___', '', ''),
        potassium(S, '2150-06-10 15:00:00', '3.4', '3.4', ''),
        // 7: flagged abnormal without a number: flag 1, class unknown.
        potassium(S, '2150-07-10 12:30:00', 'HEMOLYZED', '', 'abnormal'),
      ],
    });
    await deriveLabels(paths);
    const labels = (await readLabels(paths.warehouse)).map((row) => [
      row.flag,
      row.potassiumClass,
      row.potassium,
    ]);
    expect(labels).toEqual([
      [1, 2, 6.7],
      [1, 0, 3.0],
      [null, null, null],
      [1, 2, 5.5],
      [0, 1, 5.0],
      [0, 1, 3.4],
      [1, null, null],
    ]);
  });

  it('honours a configured window and default reference range', async () => {
    const paths = await writeMiniMimic({
      recordList: [ecg(S, 1, '2150-01-10 12:00:00')],
      patients: [patient(S, 'M', 60, 2150)],
      labevents: [potassium(S, '2150-01-10 15:00:00', '5.0', '5.0', '', { lower: '', upper: '' })],
    });
    await deriveLabels({ ...paths, config: { potassium: { windowHours: 2 } } });
    expect((await readLabels(paths.warehouse))[0]!.flag).toBeNull();
    await deriveLabels({
      ...paths,
      config: { potassium: { windowHours: 4, defaultReferenceRange: { lower: 3.5, upper: 4.5 } } },
    });
    expect((await readLabels(paths.warehouse))[0]).toMatchObject({ flag: 0, potassiumClass: 2 });
  });
});

describe('free-text notes', () => {
  it('label ECGs whose machine report has no statement, through waveform_note_links', async () => {
    const S = 10000050;
    const paths = await writeMiniMimic({
      recordList: [ecg(S, 1, '2150-01-10 12:00:00'), ecg(S, 2, '2150-01-11 12:00:00')],
      machineMeasurements: [
        measurement(S, 1, '2150-01-10 12:00:00', ['Sinus bradycardia'], 1100),
        measurement(S, 2, '2150-01-11 12:00:00', [], 900),
      ],
      waveformNoteLinks: [
        [String(S), '1', 'files/x', `${S}-EK-1`, '1', '2150-01-10 12:00:00'],
        [String(S), '2', 'files/y', `${S}-EK-2`, '2', '2150-01-11 12:00:00'],
      ],
      notes: [
        [`${S}-EK-1`, String(S), 'Sinus tachycardia'],
        [
          `${S}-EK-2`,
          String(S),
          'Atrial fibrillation with rapid ventricular response\nST-T changes; Abnormal ECG',
        ],
      ],
      patients: [patient(S, 'F', 70, 2150)],
    });
    const summary = await deriveLabels({ ...paths, notes: join(paths.root, 'notes.csv') });
    const rows = await readLabels(paths.warehouse);
    expect(rows.map((row) => [row.reportLabel, row.reportLabels, row.reportSource])).toEqual([
      [1, [1], 'machine'],
      [6, [6], 'note'],
    ]);
    expect(summary.statistics.reportFromNotes).toBe(1);
    expect(summary.sources.notes?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
