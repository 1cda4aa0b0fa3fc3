import { constants, mkdirSync, writeFileSync } from 'node:fs';
import { access, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { appendLineageEvent, ConfigError, newRunId, sha256, writeFileAtomic } from '@enecg/common';
import { CLASS_COUNT, DATA_QUALITY_CLASS } from './classes.ts';
import { ageAt, buildCohort, nearestPotassium, type Study, type Subject } from './cohort.ts';
import { csvLine, formatDate, formatDateTime } from './csv.ts';
import { MISSING_MEASUREMENT } from './ecg-format.ts';
import {
  type ResolvedSynthOptions,
  resolveSynthOptions,
  type SynthLayout,
  type SynthOptions,
} from './options.ts';
import { synthesizeEcg } from './physiology.ts';
import { Rng, STREAM } from './random.ts';
import { layoutReport, REPORT_COLUMNS, reportStatements } from './reports.ts';
import { encodeWfdbRecord } from './wfdb.ts';

export interface SynthSummary {
  outDir: string;
  layout: SynthLayout;
  seed: number;
  subjects: number;
  records: number;
  labRows: number;
  /** Records per arrhythmia class 0..14. */
  classCounts: number[];
  /** Paths of the tables written, relative to outDir. */
  paths: Partial<Record<SynthTable, string>>;
  /** sha256 of each table file as written (the .csv.gz bytes for the hosp tables). */
  sha256: Partial<Record<SynthTable, string>>;
}

export type SynthTable =
  | 'recordList'
  | 'machineMeasurements'
  | 'waveformNoteLinks'
  | 'patients'
  | 'labevents'
  | 'dLabitems'
  | 'admissions'
  | 'groundTruth';

const TABLE_PATHS: Record<SynthTable, string> = {
  recordList: 'record_list.csv',
  machineMeasurements: 'machine_measurements.csv',
  waveformNoteLinks: 'waveform_note_links.csv',
  patients: 'hosp/patients.csv.gz',
  labevents: 'hosp/labevents.csv.gz',
  dLabitems: 'hosp/d_labitems.csv.gz',
  admissions: 'hosp/admissions.csv.gz',
  groundTruth: 'ground_truth.csv',
};

/** What the MIMIC-IV-ECG demo ships at its root; it has no measurements or note links. */
const DEMO_TABLES: readonly SynthTable[] = [
  'recordList',
  'patients',
  'labevents',
  'dLabitems',
  'admissions',
  'groundTruth',
];

const OWNED_ENTRIES = ['files', 'hosp', ...Object.values(TABLE_PATHS).filter((p) => !p.startsWith('hosp/'))];

const HEADERS = {
  recordList: ['subject_id', 'study_id', 'file_name', 'ecg_time', 'path'],
  machineMeasurements: [
    'subject_id',
    'study_id',
    'cart_id',
    'ecg_time',
    ...Array.from({ length: REPORT_COLUMNS }, (_, i) => `report_${i}`),
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
  ],
  waveformNoteLinks: ['subject_id', 'study_id', 'waveform_path', 'note_id', 'note_seq', 'charttime'],
  patients: ['subject_id', 'gender', 'anchor_age', 'anchor_year', 'anchor_year_group', 'dod'],
  labevents: [
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
  ],
  dLabitems: ['itemid', 'label', 'fluid', 'category'],
  admissions: [
    'subject_id',
    'hadm_id',
    'admittime',
    'dischtime',
    'deathtime',
    'admission_type',
    'admit_provider_id',
    'admission_location',
    'discharge_location',
    'insurance',
    'language',
    'marital_status',
    'race',
    'edregtime',
    'edouttime',
    'hospital_expire_flag',
  ],
  groundTruth: [
    'subject_id',
    'study_id',
    'report_label',
    'rr_interval',
    'age',
    'gender',
    'potassium',
    'flag',
    'potassium_class',
  ],
} satisfies Record<SynthTable, string[]>;

const LAB_ITEMS: ReadonlyArray<[number, string, string, string]> = [
  [50822, 'Potassium, Whole Blood', 'Blood', 'Blood Gas'],
  [50824, 'Sodium, Whole Blood', 'Blood', 'Blood Gas'],
  [50912, 'Creatinine', 'Blood', 'Chemistry'],
  [50971, 'Potassium', 'Blood', 'Chemistry'],
  [50983, 'Sodium', 'Blood', 'Chemistry'],
];

/** Where a record lives under the dataset root, without extension. */
function recordPath(layout: SynthLayout, subjectId: number, studyId: number): string {
  const subject = `p${subjectId}`;
  const group = layout === 'v1' ? `p${String(subjectId).slice(0, 4)}/` : '';
  return `files/${group}${subject}/s${studyId}/${studyId}`;
}

async function prepareOutDir(options: ResolvedSynthOptions): Promise<void> {
  const { outDir } = options;
  try {
    await mkdir(outDir, { recursive: true });
    if (!(await stat(outDir)).isDirectory()) throw new Error('not a folder');
    await access(outDir, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`cannot create or write the folder ${outDir} (${reason})`, 'outDir');
  }
  const existing = (await readdir(outDir)).filter((entry) => OWNED_ENTRIES.includes(entry));
  if (existing.length === 0) return;
  if (!options.overwrite) {
    throw new ConfigError(
      `${outDir} already holds a dataset (${existing.join(', ')}); choose an empty folder or pass overwrite`,
      'outDir',
    );
  }
  for (const entry of existing) await rm(join(outDir, entry), { recursive: true, force: true });
}

/** Creates each record folder once, without the per-level checks of a recursive mkdir. */
class FolderCache {
  private readonly made = new Set<string>();

  ensure(folder: string): void {
    if (this.made.has(folder)) return;
    const parent = dirname(folder);
    if (parent !== folder) this.ensure(parent);
    mkdirSync(folder, { recursive: true });
    this.made.add(folder);
  }
}

function measurementCell(rng: Rng, value: number | null, missingRate: number): number {
  return value === null || rng.chance(missingRate) ? MISSING_MEASUREMENT : value;
}

/**
 * Generates a synthetic MIMIC-IV-ECG (v1.0 or demo layout) and MIMIC-IV hosp dataset with known ground
 * truth for the five tasks. Same options, same bytes.
 */
export async function generateSynthetic(options: SynthOptions): Promise<SynthSummary> {
  const resolved = resolveSynthOptions(options);
  await prepareOutDir(resolved);
  const { outDir, layout, seed } = resolved;
  const cohort = buildCohort(resolved);

  const rows: Record<SynthTable, string[]> = {
    recordList: [],
    machineMeasurements: [],
    waveformNoteLinks: [],
    patients: [],
    labevents: [],
    dLabitems: LAB_ITEMS.map((item) => csvLine(item)),
    admissions: [],
    groundTruth: [],
  };
  const classCounts = new Array<number>(CLASS_COUNT).fill(0);
  let records = 0;
  const folders = new FolderCache();
  let labeventId = 1_000_000 + new Rng(seed, STREAM.ids, 1).int(0, 8_000_000);

  for (const subject of cohort) {
    for (const study of subject.studies) {
      writeStudy(subject, study, resolved, rows, folders);
      classCounts[study.arrhythmiaClass]!++;
      records++;
      // Give the event loop a turn now and then so that a hosting worker can heartbeat.
      if (records % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    rows.patients.push(
      csvLine([
        subject.subjectId,
        subject.gender,
        subject.anchorAge,
        subject.anchorYear,
        subject.anchorYearGroup,
        subject.dod === undefined ? undefined : formatDate(subject.dod),
      ]),
    );
    for (const lab of subject.labs) {
      rows.labevents.push(
        csvLine([
          labeventId++,
          subject.subjectId,
          lab.hadmId,
          lab.specimenId,
          lab.itemid,
          lab.orderProviderId,
          formatDateTime(lab.charttime),
          formatDateTime(lab.storetime),
          lab.value,
          lab.valuenum,
          lab.valueuom,
          lab.refLower,
          lab.refUpper,
          lab.flag,
          lab.priority,
          lab.comments,
        ]),
      );
    }
    for (const a of subject.admissions) {
      rows.admissions.push(
        csvLine([
          subject.subjectId,
          a.hadmId,
          formatDateTime(a.admittime),
          formatDateTime(a.dischtime),
          undefined,
          a.admissionType,
          a.admitProviderId,
          a.admissionLocation,
          a.dischargeLocation,
          a.insurance,
          a.language,
          a.maritalStatus,
          a.race,
          a.edregtime === undefined ? undefined : formatDateTime(a.edregtime),
          a.edouttime === undefined ? undefined : formatDateTime(a.edouttime),
          0,
        ]),
      );
    }
  }

  const tables = layout === 'v1' ? (Object.keys(TABLE_PATHS) as SynthTable[]) : DEMO_TABLES;
  const hashes: Partial<Record<SynthTable, string>> = {};
  for (const table of tables) {
    const text = `${[csvLine(HEADERS[table]), ...rows[table]].join('\n')}\n`;
    const bytes = TABLE_PATHS[table].endsWith('.gz') ? gzipSync(text) : Buffer.from(text);
    await writeFileAtomic(join(outDir, TABLE_PATHS[table]), bytes);
    hashes[table] = sha256(bytes);
  }

  const summary: SynthSummary = {
    outDir,
    layout,
    seed,
    subjects: cohort.length,
    records,
    labRows: rows.labevents.length,
    classCounts,
    paths: Object.fromEntries(tables.map((table) => [table, TABLE_PATHS[table]])),
    sha256: hashes,
  };
  if (resolved.warehouse) {
    await appendLineageEvent(resolved.warehouse, {
      eventType: 'COMPLETE',
      eventTime: new Date().toISOString(),
      run: { runId: resolved.runId ?? newRunId() },
      job: { name: 'synth' },
      inputs: [],
      outputs: tables.map((table) => ({
        name: `synth/${table}`,
        path: join(outDir, TABLE_PATHS[table]),
        sha256: hashes[table]!,
        rows: rows[table].length,
      })),
      facets: { options: { ...resolved, warehouse: undefined, runId: undefined }, records },
    });
  }
  return summary;
}

function writeStudy(
  subject: Subject,
  study: Study,
  options: ResolvedSynthOptions,
  rows: Record<SynthTable, string[]>,
  folders: FolderCache,
): void {
  const { studyId } = study;
  const { outDir, layout, seed, missing } = options;
  const rng = new Rng(seed, STREAM.signal, subject.subjectId, studyId);
  const age = ageAt(subject, study.time);
  const plan = {
    arrhythmiaClass: study.arrhythmiaClass,
    otherRhythm: study.otherRhythm,
    ageYears: age,
    potassium: study.potassium,
    traits: subject.traits,
  };
  const ecg = synthesizeEcg(rng, plan);
  const path = recordPath(layout, subject.subjectId, studyId);
  const files = encodeWfdbRecord(String(studyId), subject.subjectId, new Date(study.time), ecg.samples);
  folders.ensure(join(outDir, path, '..'));
  writeFileSync(join(outDir, `${path}.hea`), files.header);
  writeFileSync(join(outDir, `${path}.dat`), files.dat);

  const ecgTime = formatDateTime(study.time);
  rows.recordList.push(csvLine([subject.subjectId, studyId, studyId, ecgTime, path]));
  const m = ecg.measurements;
  const rrMissing = rng.chance(study.arrhythmiaClass === DATA_QUALITY_CLASS ? 0.2 : missing.rrInterval);
  const rrInterval = rrMissing ? MISSING_MEASUREMENT : m.rrIntervalMs;
  const report = layoutReport(rng, reportStatements(rng, plan, ecg.findings, m));
  rows.machineMeasurements.push(
    csvLine([
      subject.subjectId,
      studyId,
      study.cartId,
      ecgTime,
      ...report,
      '0.005-150 Hz',
      '60 Hz notch Baseline filter',
      rrInterval,
      measurementCell(rng, m.pOnsetMs, missing.measurement),
      measurementCell(rng, m.pEndMs, missing.measurement),
      measurementCell(rng, m.qrsOnsetMs, missing.measurement),
      measurementCell(rng, m.qrsEndMs, missing.measurement),
      measurementCell(rng, m.tEndMs, missing.measurement),
      measurementCell(rng, m.pAxisDeg, missing.measurement),
      measurementCell(rng, m.qrsAxisDeg, missing.measurement),
      measurementCell(rng, m.tAxisDeg, missing.measurement),
    ]),
  );
  if (study.noteSeq !== undefined) {
    rows.waveformNoteLinks.push(
      csvLine([
        subject.subjectId,
        studyId,
        path,
        `${subject.subjectId}-EK-${study.noteSeq}`,
        study.noteSeq,
        ecgTime,
      ]),
    );
  }
  const potassium = nearestPotassium(subject, study.time);
  rows.groundTruth.push(
    csvLine([
      subject.subjectId,
      studyId,
      study.arrhythmiaClass,
      rrMissing ? undefined : m.rrIntervalMs,
      age,
      subject.gender === 'M' ? 0 : 1,
      potassium?.result.valuenum,
      potassium === undefined ? undefined : potassium.result.flag === 'abnormal' ? 1 : 0,
      potassium?.potassiumClass,
    ]),
  );
}
