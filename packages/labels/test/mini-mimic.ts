import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Hand-written rows for a tiny MIMIC-layout dataset; each test states exactly the rows it needs. */
export interface MiniMimic {
  recordList?: string[][];
  machineMeasurements?: string[][];
  waveformNoteLinks?: string[][];
  notes?: string[][];
  patients?: string[][];
  labevents?: string[][];
  dLabitems?: string[][];
}

export const RECORD_LIST_HEADER = ['subject_id', 'study_id', 'file_name', 'ecg_time', 'path'];
export const MACHINE_MEASUREMENTS_HEADER = [
  'subject_id',
  'study_id',
  'cart_id',
  'ecg_time',
  ...Array.from({ length: 18 }, (_, i) => `report_${i}`),
  'bandwidth',
  'filtering',
  'rr_interval',
  'p_onset',
  'p_end',
  'qrs_onset',
  'qrs_end',
  't_end',
  'p_axis',
  'qrs_axis',
  't_axis',
];
export const PATIENTS_HEADER = [
  'subject_id',
  'gender',
  'anchor_age',
  'anchor_year',
  'anchor_year_group',
  'dod',
];
export const LABEVENTS_HEADER = [
  'labevent_id',
  'subject_id',
  'hadm_id',
  'specimen_id',
  'itemid',
  'order_provider_id',
  'charttime',
  'storetime',
  'value',
  'valuenum',
  'valueuom',
  'ref_range_lower',
  'ref_range_upper',
  'flag',
  'priority',
  'comments',
];
export const D_LABITEMS_ROWS = [
  ['50971', 'Potassium', 'Blood', 'Chemistry'],
  ['50822', 'Potassium, Whole Blood', 'Blood', 'Blood Gas'],
  ['50983', 'Sodium', 'Blood', 'Chemistry'],
];

/** A record_list row (file name and path filled in the v1.0 layout). */
export function ecg(subjectId: number, studyId: number, ecgTime: string): string[] {
  const group = String(subjectId).slice(0, 4);
  return [
    String(subjectId),
    String(studyId),
    String(studyId),
    ecgTime,
    `files/p${group}/p${subjectId}/s${studyId}/${studyId}`,
  ];
}

/** A machine_measurements row: report cells by position (missing ones empty) and the RR interval. */
export function measurement(
  subjectId: number,
  studyId: number,
  ecgTime: string,
  reports: readonly string[],
  rrInterval: number | '',
): string[] {
  const cells = Array.from({ length: 18 }, (_, i) => reports[i] ?? '');
  return [
    String(subjectId),
    String(studyId),
    '6848296',
    ecgTime,
    ...cells,
    '0.005-150 Hz',
    '60 Hz notch',
    String(rrInterval),
    '40',
    '128',
    '170',
    '258',
    '518',
    '81',
    '77',
    '79',
  ];
}

export function patient(subjectId: number, gender: string, anchorAge: number, anchorYear: number): string[] {
  return [String(subjectId), gender, String(anchorAge), String(anchorYear), '2011 - 2013', ''];
}

export function potassium(
  subjectId: number,
  charttime: string,
  value: string,
  valuenum: string,
  flag: '' | 'abnormal',
  options: { itemid?: number; lower?: string; upper?: string } = {},
): string[] {
  return [
    '1',
    String(subjectId),
    '',
    '1',
    String(options.itemid ?? 50971),
    '',
    charttime,
    charttime,
    value,
    valuenum,
    'mEq/L',
    options.lower ?? '3.3',
    options.upper ?? '5.1',
    flag,
    'STAT',
    '',
  ];
}

function csv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const quote = (cell: string) => (/[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
  return `${[header, ...rows].map((row) => row.map(quote).join(',')).join('\n')}\n`;
}

/** Writes the dataset under a fresh temporary folder: `<root>/ecg`, `<root>/hosp` (gzip), `<root>/warehouse`. */
export async function writeMiniMimic(
  data: MiniMimic,
): Promise<{ source: string; hosp: string; warehouse: string; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'enecg-labels-test-'));
  const source = join(root, 'ecg');
  const hosp = join(root, 'hosp');
  await mkdir(source);
  await mkdir(hosp);
  await writeFile(join(source, 'record_list.csv'), csv(RECORD_LIST_HEADER, data.recordList ?? []));
  if (data.machineMeasurements) {
    await writeFile(
      join(source, 'machine_measurements.csv'),
      csv(MACHINE_MEASUREMENTS_HEADER, data.machineMeasurements),
    );
  }
  if (data.waveformNoteLinks) {
    await writeFile(
      join(source, 'waveform_note_links.csv'),
      csv(
        ['subject_id', 'study_id', 'waveform_path', 'note_id', 'note_seq', 'charttime'],
        data.waveformNoteLinks,
      ),
    );
  }
  if (data.notes)
    await writeFile(join(root, 'notes.csv'), csv(['note_id', 'subject_id', 'text'], data.notes));
  await writeFile(join(hosp, 'patients.csv.gz'), gzipSync(csv(PATIENTS_HEADER, data.patients ?? [])));
  await writeFile(join(hosp, 'labevents.csv.gz'), gzipSync(csv(LABEVENTS_HEADER, data.labevents ?? [])));
  await writeFile(
    join(hosp, 'd_labitems.csv.gz'),
    gzipSync(csv(['itemid', 'label', 'fluid', 'category'], data.dLabitems ?? D_LABITEMS_ROWS)),
  );
  return { source, hosp, warehouse: join(root, 'warehouse'), root };
}
