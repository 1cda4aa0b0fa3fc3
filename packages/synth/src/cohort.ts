import { OTHER_CLASS, OTHER_RHYTHM_KINDS, type OtherRhythm } from './classes.ts';
import type { ResolvedSynthOptions } from './options.ts';
import { drawSubjectTraits, type SubjectTraits } from './physiology.ts';
import { Rng, STREAM } from './random.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365.25 * DAY;

export const POTASSIUM_ITEMIDS = { chemistry: 50971, bloodGas: 50822 } as const;
/** The window within which a potassium result is attributed to an ECG in the ground truth. */
export const POTASSIUM_WINDOW_MS = 12 * HOUR;
/** "Far" draws are at least this far from every ECG of the subject, so that any window excludes them. */
const FAR_DRAW_MIN_MS = 49 * HOUR;

export interface Study {
  studyId: number;
  time: number;
  arrhythmiaClass: number;
  otherRhythm: OtherRhythm | undefined;
  /** Serum potassium that shaped the ECG. */
  potassium: number;
  cartId: number;
  noteSeq: number | undefined;
}

/** One lab result row; companions are the other chemistry results of the same specimen. */
export interface LabResult {
  itemid: number;
  charttime: number;
  storetime: number;
  specimenId: number;
  hadmId: number | undefined;
  orderProviderId: string;
  value: string;
  valuenum: number | undefined;
  valueuom: string;
  refLower: number | undefined;
  refUpper: number | undefined;
  flag: '' | 'abnormal';
  priority: '' | 'STAT' | 'ROUTINE';
  comments: string;
}

export interface Admission {
  hadmId: number;
  admittime: number;
  dischtime: number;
  admissionType: string;
  admitProviderId: string;
  admissionLocation: string;
  dischargeLocation: string;
  insurance: string;
  language: string;
  maritalStatus: string;
  race: string;
  edregtime: number | undefined;
  edouttime: number | undefined;
}

export interface Subject {
  subjectId: number;
  gender: 'M' | 'F';
  anchorAge: number;
  anchorYear: number;
  anchorYearGroup: string;
  dod: number | undefined;
  traits: SubjectTraits;
  studies: Study[];
  labs: LabResult[];
  admissions: Admission[];
}

/** MIMIC's age at a time: anchor_age + (year of the time - anchor_year), capped at 91. */
export function ageAt(subject: Subject, time: number): number {
  return Math.min(91, subject.anchorAge + new Date(time).getUTCFullYear() - subject.anchorYear);
}

export interface PotassiumTruth {
  result: LabResult;
  potassiumClass: 0 | 1 | 2;
}

/** The result with a value nearest to the ECG within the window; cohort building keeps it unique. */
export function nearestPotassium(subject: Subject, time: number): PotassiumTruth | undefined {
  let best: LabResult | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const lab of subject.labs) {
    if (!isPotassium(lab) || lab.valuenum === undefined) continue;
    const distance = Math.abs(lab.charttime - time);
    if (distance <= POTASSIUM_WINDOW_MS && distance < bestDistance) {
      best = lab;
      bestDistance = distance;
    }
  }
  if (!best) return undefined;
  const value = best.valuenum!;
  const potassiumClass = value < best.refLower! ? 0 : value > best.refUpper! ? 2 : 1;
  return { result: best, potassiumClass };
}

function isPotassium(lab: LabResult): boolean {
  return lab.itemid === POTASSIUM_ITEMIDS.chemistry || lab.itemid === POTASSIUM_ITEMIDS.bloodGas;
}

const ANCHOR_YEAR_GROUPS = ['2008 - 2010', '2011 - 2013', '2014 - 2016', '2017 - 2019', '2020 - 2022'];
const ADMISSION_TYPES = ['EW EMER.', 'EW EMER.', 'OBSERVATION ADMIT', 'URGENT', 'EU OBSERVATION', 'ELECTIVE'];
const DISCHARGE_LOCATIONS = ['HOME', 'HOME HEALTH CARE', 'SKILLED NURSING FACILITY', 'REHAB', ''];
const INSURANCES = ['Other', 'Medicare', 'Medicare', 'Medicaid'];
const MARITAL = ['SINGLE', 'MARRIED', 'WIDOWED', 'DIVORCED', ''];
const RACES = [
  'WHITE',
  'WHITE',
  'WHITE',
  'BLACK/AFRICAN AMERICAN',
  'UNKNOWN',
  'HISPANIC/LATINO - CUBAN',
  'ASIAN',
];

/** Allocates unique random identifiers from a range, in a seeded order. */
class IdPool {
  private readonly used = new Set<number>();
  constructor(
    private readonly rng: Rng,
    private readonly low: number,
    private readonly high: number,
  ) {}

  next(): number {
    for (;;) {
      const id = this.rng.int(this.low, this.high);
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
  }
}

function providerId(rng: Rng): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let id = 'P';
  for (let i = 0; i < 5; i++) id += alphabet[rng.int(0, alphabet.length - 1)];
  return id;
}

function roundTo(time: number, unit: number): number {
  return Math.round(time / unit) * unit;
}

function drawPotassiumState(rng: Rng, options: ResolvedSynthOptions): number {
  const u = rng.uniform();
  if (u < options.hypokalemiaFraction) return rng.between(2.5, 3.3);
  if (u < options.hypokalemiaFraction + options.hyperkalemiaFraction) return rng.between(5.3, 7.2);
  return Math.min(5.0, Math.max(3.45, rng.gaussian(4.2, 0.3)));
}

interface CohortIds {
  subjects: IdPool;
  studies: IdPool;
  specimens: IdPool;
  admissions: IdPool;
  carts: number[];
}

/** Builds every subject's demographics, ECG schedule, potassium results and admissions. */
export function buildCohort(options: ResolvedSynthOptions): Subject[] {
  const idRng = new Rng(options.seed, STREAM.ids);
  const ids: CohortIds = {
    subjects: new IdPool(idRng, 10_000_000, 19_999_999),
    studies:
      options.layout === 'v1'
        ? new IdPool(idRng, 40_000_000, 49_999_999)
        : new IdPool(idRng, 100_000_000, 109_999_999),
    specimens: new IdPool(idRng, 1_000_000, 99_999_999),
    admissions: new IdPool(idRng, 20_000_000, 29_999_999),
    carts: Array.from({ length: 24 }, () => idRng.int(6_000_000, 6_999_999)),
  };
  const subjects: Subject[] = [];
  for (let index = 0; index < options.subjects; index++) {
    subjects.push(buildSubject(new Rng(options.seed, STREAM.subject, index), options, ids));
  }
  subjects.sort((a, b) => a.subjectId - b.subjectId);
  return subjects;
}

function buildSubject(rng: Rng, options: ResolvedSynthOptions, ids: CohortIds): Subject {
  const female = rng.chance(0.48);
  const anchorAge = Math.round(Math.min(91, Math.max(18, rng.gaussian(63, 17))));
  const anchorYear = rng.int(2110, 2200);
  const ecgCount = rng.chance(options.multiEcgFraction)
    ? Math.min(options.maxEcgsPerSubject, 2 + Math.floor(-Math.log(1 - rng.uniform()) * 1.8))
    : 1;
  const timeUnit = options.layout === 'v1' ? MINUTE : 1000;

  // ECG times cluster into episodes (a visit, a stay); potassium is a property of the episode.
  const studies: Study[] = [];
  const episodes: number[][] = [];
  let time = Date.UTC(anchorYear, 0, 1) + rng.between(0, 2.9 * YEAR);
  for (let i = 0; i < ecgCount; i++) {
    if (i > 0) {
      const sameEpisode = rng.chance(0.35);
      time += sameEpisode ? rng.between(0.3 * HOUR, 30 * HOUR) : rng.between(3 * DAY, 700 * DAY);
      if (!sameEpisode) episodes.push([]);
    } else {
      episodes.push([]);
    }
    const arrhythmiaClass = rng.weightedIndex(options.classWeights);
    studies.push({
      studyId: ids.studies.next(),
      time: roundTo(time, timeUnit),
      arrhythmiaClass,
      otherRhythm: arrhythmiaClass === OTHER_CLASS ? rng.pick(OTHER_RHYTHM_KINDS) : undefined,
      potassium: 0,
      cartId: rng.pick(ids.carts),
      noteSeq: undefined,
    });
    episodes[episodes.length - 1]!.push(i);
  }
  let noteSeq = 0;
  for (const study of studies) if (!rng.chance(options.missing.noteLink)) study.noteSeq = ++noteSeq;

  const labs: LabResult[] = [];
  const admissions: Admission[] = [];
  for (const episode of episodes) {
    const potassium = drawPotassiumState(rng, options);
    const episodeStudies = episode.map((i) => studies[i]!);
    for (const study of episodeStudies) {
      study.potassium = potassium;
      if (rng.chance(options.missing.potassium)) continue;
      const offset = rng.chance(0.85)
        ? rng.between(-3 * HOUR, 3 * HOUR)
        : rng.between(3 * HOUR, 11.5 * HOUR) * rng.pick([-1, 1]);
      labs.push(...potassiumDraw(rng, ids, study.time + offset, potassium + rng.gaussian(0, 0.12), false));
    }
    const first = episodeStudies[0]!.time;
    const last = episodeStudies[episodeStudies.length - 1]!.time;
    if (rng.chance(0.55)) admissions.push(admission(rng, ids, first, last));
  }
  const farDraws = rng.chance(0.4) ? rng.int(1, 2) : 0;
  for (let i = 0; i < farDraws; i++) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const candidate =
        studies[0]!.time + rng.between(-400 * DAY, 400 * DAY + (studies.at(-1)!.time - studies[0]!.time));
      if (studies.every((s) => Math.abs(s.time - candidate) >= FAR_DRAW_MIN_MS)) {
        labs.push(...potassiumDraw(rng, ids, candidate, drawPotassiumState(rng, options), true));
        break;
      }
    }
  }
  labs.sort((a, b) => a.charttime - b.charttime || a.itemid - b.itemid);
  separateTies(labs, studies);
  for (const lab of labs) {
    const stay = admissions.find((a) => lab.charttime >= a.admittime && lab.charttime <= a.dischtime);
    lab.hadmId = stay?.hadmId;
  }

  const lastEvent = Math.max(studies.at(-1)!.time, ...labs.map((l) => l.charttime));
  return {
    subjectId: ids.subjects.next(),
    gender: female ? 'F' : 'M',
    anchorAge,
    anchorYear,
    anchorYearGroup: rng.pick(ANCHOR_YEAR_GROUPS),
    dod: rng.chance(0.08) ? roundTo(lastEvent + rng.between(10 * DAY, 2000 * DAY), DAY) : undefined,
    traits: drawSubjectTraits(rng, female),
    studies,
    labs,
    admissions,
  };
}

function formatValue(value: number): { value: string; valuenum: number } {
  const rounded = Math.round(value * 10) / 10;
  return { value: rounded.toFixed(1), valuenum: rounded };
}

/**
 * One blood draw: a potassium result (chemistry with sodium and creatinine of the same specimen, or
 * a blood gas), with the reference range, flag and occasional redacted value of the real tables.
 */
function potassiumDraw(rng: Rng, ids: CohortIds, time: number, potassium: number, far: boolean): LabResult[] {
  const charttime = roundTo(time, MINUTE);
  const specimenId = ids.specimens.next();
  const bloodGas = rng.chance(0.1);
  const [refLower, refUpper] = rng.chance(0.88) ? [3.3, 5.1] : bloodGas ? [3.5, 5.3] : [3.5, 5.4];
  const formatted = formatValue(Math.min(9.5, Math.max(1.5, potassium)));
  const abnormal = formatted.valuenum < refLower || formatted.valuenum > refUpper;
  const storetime = charttime + (bloodGas ? rng.int(2, 15) : rng.int(30, 150)) * MINUTE;
  const priority = bloodGas ? '' : rng.chance(0.55) ? 'STAT' : 'ROUTINE';
  const orderProviderId = rng.chance(0.1) ? providerId(rng) : '';
  const common = { charttime, storetime, specimenId, hadmId: undefined, orderProviderId, priority } as const;
  let value = formatted.value;
  let valuenum: number | undefined = formatted.valuenum;
  let comments = '';
  if (far && rng.chance(0.05)) {
    value = '';
    valuenum = undefined;
    comments = '___';
  } else if (!bloodGas && rng.chance(0.06)) {
    value = '___';
    comments = rng.pick(['VERIFIED BY ALTERNATE METHODOLOGY.', 'New reference range as of ___.']);
  } else if (!bloodGas && formatted.valuenum > 5.1 && rng.chance(0.25)) {
    comments = 'HEMOLYSIS FALSELY ELEVATES K..';
  }
  const result: LabResult = {
    ...common,
    itemid: bloodGas ? POTASSIUM_ITEMIDS.bloodGas : POTASSIUM_ITEMIDS.chemistry,
    value,
    valuenum,
    valueuom: 'mEq/L',
    refLower,
    refUpper,
    flag: abnormal && valuenum !== undefined ? 'abnormal' : '',
    comments,
  };
  if (bloodGas) return [result];
  const sodium = formatValue(rng.gaussian(139, 3.5));
  const creatinine = Math.max(0.3, rng.gaussian(1.1, 0.4));
  return [
    result,
    {
      ...common,
      itemid: 50983,
      value: String(Math.round(sodium.valuenum)),
      valuenum: Math.round(sodium.valuenum),
      valueuom: 'mEq/L',
      refLower: 133,
      refUpper: 145,
      flag: sodium.valuenum < 133 || sodium.valuenum > 145 ? 'abnormal' : '',
      comments: '',
    },
    {
      ...common,
      itemid: 50912,
      value: creatinine.toFixed(1),
      valuenum: Math.round(creatinine * 10) / 10,
      valueuom: 'mg/dL',
      refLower: 0.5,
      refUpper: 1.2,
      flag: creatinine > 1.2 ? 'abnormal' : '',
      comments: '',
    },
  ];
}

/**
 * Two potassium results equally far from an ECG would make "the nearest" ambiguous; shift the later
 * draw (and its specimen's companions) by a minute until every ECG has one nearest result.
 */
function separateTies(labs: LabResult[], studies: Study[]): void {
  for (let pass = 0; pass < 10; pass++) {
    let moved = false;
    for (const study of studies) {
      const distances = labs
        .filter((l) => isPotassium(l) && l.valuenum !== undefined)
        .map((l) => ({ lab: l, distance: Math.abs(l.charttime - study.time) }))
        .filter((d) => d.distance <= POTASSIUM_WINDOW_MS)
        .sort((a, b) => a.distance - b.distance);
      const [a, b] = distances;
      if (a && b && a.distance === b.distance) {
        const later = a.lab.charttime > b.lab.charttime ? a.lab : b.lab;
        for (const lab of labs) {
          if (lab.specimenId === later.specimenId) {
            lab.charttime += MINUTE;
            lab.storetime += MINUTE;
          }
        }
        moved = true;
      }
    }
    if (!moved) return;
  }
}

function admission(rng: Rng, ids: CohortIds, first: number, last: number): Admission {
  const admittime = roundTo(first - rng.between(1 * HOUR, 20 * HOUR), MINUTE);
  const dischtime = roundTo(last + rng.between(1 * DAY, 8 * DAY), MINUTE);
  const fromEmergency = rng.chance(0.6);
  return {
    hadmId: ids.admissions.next(),
    admittime,
    dischtime,
    admissionType: rng.pick(ADMISSION_TYPES),
    admitProviderId: providerId(rng),
    admissionLocation: fromEmergency
      ? 'EMERGENCY ROOM'
      : rng.pick(['PHYSICIAN REFERRAL', 'TRANSFER FROM HOSPITAL', 'CLINIC REFERRAL']),
    dischargeLocation: rng.pick(DISCHARGE_LOCATIONS),
    insurance: rng.pick(INSURANCES),
    language: rng.chance(0.93) ? 'ENGLISH' : '?',
    maritalStatus: rng.pick(MARITAL),
    race: rng.pick(RACES),
    edregtime: fromEmergency ? admittime - rng.int(60, 600) * MINUTE : undefined,
    edouttime: fromEmergency ? admittime + rng.int(10, 120) * MINUTE : undefined,
  };
}
