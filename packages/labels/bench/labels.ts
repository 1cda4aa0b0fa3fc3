/**
 * Label derivation over 800,000 synthetic machine_measurements rows (plus a record_list row per ECG,
 * one patient per 5 ECGs, and about one potassium and one sodium result per ECG), against a baseline
 * measured in the same run: DuckDB merely reading the same CSV files into memory.
 *
 *   npx tsx packages/labels/bench/labels.ts [rows]
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32, sqlString, withDuckDB } from '@enecg/common';
import { deriveLabels } from '../src/index.ts';

const ROWS = Number(process.argv[2] ?? 800_000);
const ECGS_PER_SUBJECT = 5;
const REPEATS = 3;

const STATEMENTS = [
  'Sinus rhythm',
  'Sinus bradycardia',
  'Sinus tachycardia',
  'Atrial fibrillation',
  'Atrial fibrillation with rapid ventricular response',
  'Sinus rhythm with PVC(s)',
  'Sinus rhythm with 1st degree A-V block',
  'Warning: Data quality may affect interpretation',
  '*** Consider acute ST elevation MI ***',
  'Borderline ECG',
  'Normal ECG',
  'Abnormal ECG',
  'Left axis deviation',
  'Possible right atrial abnormality',
  'Low QRS voltages in precordial leads',
  'Nonspecific T wave abnormality',
];

async function writeLines(
  path: string,
  header: string,
  rows: number,
  line: (i: number) => string,
): Promise<void> {
  const out = createWriteStream(path);
  out.write(`${header}\n`);
  const chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    chunk.push(line(i));
    if (chunk.length === 10_000 || i === rows - 1) {
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
      chunk.length = 0;
    }
  }
  out.end();
  await once(out, 'finish');
}

const pad = (n: number) => String(n).padStart(2, '0');
function timestamp(minutes: number): string {
  const date = new Date(Date.UTC(2150, 0, 1) + minutes * 60_000);
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:00`;
}

async function generate(root: string): Promise<{ source: string; hosp: string }> {
  const source = join(root, 'ecg');
  const hosp = join(root, 'hosp');
  await mkdir(source);
  await mkdir(hosp);
  const next = mulberry32(42);
  const subjectOf = (i: number) => 10_000_000 + Math.floor(i / ECGS_PER_SUBJECT);
  const studyOf = (i: number) => 40_000_000 + i;
  // ECG i of a subject is taken (i mod 5) * 30 days after the subject's first, at a seeded minute.
  const ecgMinutes = Array.from(
    { length: ROWS },
    (_, i) => (i % ECGS_PER_SUBJECT) * 43_200 + Math.floor(next() * 1440),
  );

  await writeLines(
    join(source, 'record_list.csv'),
    'subject_id,study_id,file_name,ecg_time,path',
    ROWS,
    (i) => {
      const subject = subjectOf(i);
      const study = studyOf(i);
      return `${subject},${study},${study},${timestamp(ecgMinutes[i]!)},files/p${String(subject).slice(0, 4)}/p${subject}/s${study}/${study}`;
    },
  );
  const reportColumns = Array.from({ length: 18 }, (_, i) => `report_${i}`).join(',');
  await writeLines(
    join(source, 'machine_measurements.csv'),
    `subject_id,study_id,cart_id,ecg_time,${reportColumns},bandwidth,filtering,rr_interval,p_onset,p_end,qrs_onset,qrs_end,t_end,p_axis,qrs_axis,t_axis`,
    ROWS,
    (i) => {
      const reports = Array.from({ length: 18 }, () => '');
      const count = 1 + Math.floor(next() * 4);
      for (let k = 0; k < count; k++) {
        reports[k + (next() < 0.2 ? 1 : 0)] = STATEMENTS[Math.floor(next() * STATEMENTS.length)]!;
      }
      const rr = next() < 0.02 ? 29999 : 400 + Math.floor(next() * 1100);
      return `${subjectOf(i)},${studyOf(i)},6848296,${timestamp(ecgMinutes[i]!)},${reports.join(',')},0.005-150 Hz,60 Hz notch Baseline filter,${rr},40,128,170,258,518,81,77,79`;
    },
  );
  const subjects = Math.ceil(ROWS / ECGS_PER_SUBJECT);
  await writeLines(
    join(hosp, 'patients.csv'),
    'subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod',
    subjects,
    (s) => {
      return `${10_000_000 + s},${next() < 0.5 ? 'M' : 'F'},${18 + Math.floor(next() * 73)},2150,2011 - 2013,`;
    },
  );
  // Two lab rows per ECG: a potassium result within +-16 h (so some fall outside the 12 h window) and a
  // sodium result the rules must skip.
  await writeLines(
    join(hosp, 'labevents.csv'),
    'labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,value,valuenum,valueuom,ref_range_lower,ref_range_upper,flag,priority,comments',
    2 * ROWS,
    (j) => {
      const i = j >> 1;
      const charttime = timestamp(ecgMinutes[i]! + Math.floor((next() - 0.5) * 1920));
      if (j % 2 === 1)
        return `${j},${subjectOf(i)},,${j},50983,,${charttime},,140,140,mEq/L,133,145,,ROUTINE,`;
      const value = (2.8 + next() * 3.2).toFixed(1);
      const abnormal = Number(value) < 3.3 || Number(value) > 5.1 ? 'abnormal' : '';
      const shown = next() < 0.05 ? '___' : value;
      return `${j},${subjectOf(i)},,${j},${next() < 0.8 ? 50971 : 50822},,${charttime},,${shown},${value},mEq/L,3.3,5.1,${abnormal},STAT,`;
    },
  );
  await writeLines(join(hosp, 'd_labitems.csv'), 'itemid,label,fluid,category', 3, (k) => {
    return [
      '50971,Potassium,Blood,Chemistry',
      '50822,"Potassium, Whole Blood",Blood,Blood Gas',
      '50983,Sodium,Blood,Chemistry',
    ][k]!;
  });
  return { source, hosp };
}

/** The baseline: DuckDB parsing every source CSV the rules read into an in-memory table, nothing more. */
async function scanOnly(files: string[]): Promise<void> {
  await withDuckDB(async (connection) => {
    for (const [i, file] of files.entries()) {
      await connection.run(
        `CREATE TEMP TABLE scan_${i} AS SELECT * FROM read_csv(${sqlString(file)}, header = true)`,
      );
    }
  });
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

const root = await mkdtemp(join(tmpdir(), 'enecg-labels-bench-'));
try {
  const generationStart = performance.now();
  const { source, hosp } = await generate(root);
  console.log(
    `generated ${ROWS} ECGs in ${((performance.now() - generationStart) / 1000).toFixed(1)} s under ${root}`,
  );
  const files = [
    join(source, 'record_list.csv'),
    join(source, 'machine_measurements.csv'),
    join(hosp, 'patients.csv'),
    join(hosp, 'labevents.csv'),
  ];
  // Alternating the two, best of REPEATS each, so that load from other processes hits both alike.
  let baseline = Number.POSITIVE_INFINITY;
  let derivation = Number.POSITIVE_INFINITY;
  let summary: Awaited<ReturnType<typeof deriveLabels>> | undefined;
  for (let r = 1; r <= REPEATS; r++) {
    const scan = await seconds(() => scanOnly(files));
    const derive = await seconds(async () => {
      summary = await deriveLabels({ source, hosp, warehouse: join(root, 'warehouse') });
    });
    console.log(`  run ${r}: baseline ${scan.toFixed(2)} s, deriveLabels ${derive.toFixed(2)} s`);
    baseline = Math.min(baseline, scan);
    derivation = Math.min(derivation, derive);
  }
  const { tasks } = summary!.statistics;
  console.log(
    `labelled ${summary!.output.rows} studies: rr missing ${tasks.rr_interval.missing}, flag defined ${tasks.flag.defined}, ` +
      `report classes ${JSON.stringify(tasks.report_label.classes)}`,
  );
  console.log(`baseline     ${(ROWS / baseline).toFixed(0)} rows/s (${baseline.toFixed(2)} s)`);
  console.log(`deriveLabels ${(ROWS / derivation).toFixed(0)} rows/s (${derivation.toFixed(2)} s)`);
  console.log(`ratio deriveLabels / baseline time: ${(derivation / baseline).toFixed(2)}x`);
} finally {
  await rm(root, { recursive: true, force: true });
}
