import { OTHER_CLASS, type OtherRhythm } from './classes.ts';
import { ADC_GAIN, DURATION_S, LEAD_COUNT, SAMPLES_PER_LEAD, SAMPLING_RATE } from './ecg-format.ts';
import type { Rng } from './random.ts';

/**
 * The heart is modelled as a dipole (x to the patient's left, y inferior, z anterior) whose trajectory
 * is a sum of Gaussian waves (P, Q, R, S, T, U, ST, pacing spike) per beat, plus continuous atrial
 * activity for fibrillation and flutter. The 12 leads are projections of the dipole plus the noise of
 * nine electrodes (RA, LA, LL, V1..V6), so limb leads obey Einthoven's law exactly and noise is
 * shared between the leads that share an electrode, as on a real cart.
 */

/** Individual, age-independent traits of a subject, drawn once so that repeated ECGs look alike. */
export interface SubjectTraits {
  female: boolean;
  qrsAxisOffsetDeg: number;
  posteriorTiltDeg: number;
  rAmplitudeScale: number;
  tAmplitudeScale: number;
  tAxisOffsetDeg: number;
  pAxisDeg: number;
  heartRateOffsetBpm: number;
  qtcOffsetMs: number;
  prOffsetMs: number;
  qrsDurationOffsetMs: number;
}

export function drawSubjectTraits(rng: Rng, female: boolean): SubjectTraits {
  return {
    female,
    // About one subject in twelve has a left anterior fascicular block: a markedly leftward axis.
    qrsAxisOffsetDeg: rng.gaussian(0, 24) + (rng.chance(0.08) ? rng.between(-95, -70) : 0),
    posteriorTiltDeg: rng.gaussian(20, 6),
    rAmplitudeScale: Math.exp(rng.gaussian(0, 0.2)),
    tAmplitudeScale: Math.exp(rng.gaussian(0, 0.18)),
    tAxisOffsetDeg: rng.gaussian(0, 10),
    pAxisDeg: rng.gaussian(55, 12),
    heartRateOffsetBpm: rng.gaussian(0, 6),
    qtcOffsetMs: rng.gaussian(0, 12),
    prOffsetMs: rng.gaussian(0, 12),
    qrsDurationOffsetMs: rng.gaussian(0, 5),
  };
}

export type StTerritory = 'anterior' | 'inferior' | 'lateral';

export interface EcgPlan {
  arrhythmiaClass: number;
  /** The rhythm simulated for class 14. */
  otherRhythm?: OtherRhythm;
  ageYears: number;
  /** Serum potassium (mmol/L) at the time of the ECG; drives T and U wave morphology. */
  potassium: number;
  traits: SubjectTraits;
}

/** Interval and axis measurements as the cart reports them (ms and degrees); null = not measurable. */
export interface EcgMeasurements {
  rrIntervalMs: number;
  pOnsetMs: number | null;
  pEndMs: number | null;
  qrsOnsetMs: number;
  qrsEndMs: number;
  tEndMs: number;
  pAxisDeg: number | null;
  qrsAxisDeg: number;
  tAxisDeg: number;
}

/** Facts about the generated signal that secondary report statements describe. */
export interface EcgFindings {
  qtcMs: number;
  lowVoltageLimb: boolean;
  lowVoltagePrecordial: boolean;
  highVoltage: boolean;
  flatT: boolean;
  stTerritory: StTerritory | undefined;
  paced: boolean;
}

export interface SynthesizedEcg {
  /** Interleaved format-16 samples (sample-major, MIMIC lead order), in ADC units. */
  samples: Int16Array;
  measurements: EcgMeasurements;
  findings: EcgFindings;
  /** R-peak times (s) of the complexes inside the record, in order. */
  rPeaks: number[];
}

type BeatKind = 'normal' | 'pac' | 'pvc' | 'paced';

interface Beat {
  qrsOnset: number;
  kind: BeatKind;
  /** Seconds from P onset to QRS onset; negative for a retrograde P after the QRS; null: no P. */
  pr: number | null;
}

interface Rhythm {
  beats: Beat[];
  /** Onsets of P waves that were not conducted (second-degree block). */
  blockedP: number[];
  atrial: 'sinus' | 'fibrillation' | 'flutter' | 'none';
  /** Flutter cycle length and phase (s). */
  flutterCycle: number;
  flutterPhase: number;
  meanHeartRate: number;
  pr: number | null;
  /** P axis override for ectopic atrial and retrograde P waves. */
  pAxisDeg: number | undefined;
}

type Vec3 = [number, number, number];

const deg = Math.PI / 180;

function frontal(angleDeg: number, z: number): Vec3 {
  const c = Math.cos(angleDeg * deg);
  const s = Math.sin(angleDeg * deg);
  const norm = Math.sqrt(1 + z * z);
  return [c / norm, s / norm, z / norm];
}

function scale(v: Vec3, k: number): Vec3 {
  return [v[0] * k, v[1] * k, v[2] * k];
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Precordial electrodes: horizontal-plane angle (0 = left, 90 = anterior), inferior share, gain. */
const PRECORDIAL: ReadonlyArray<{ angle: number; inferior: number; gain: number }> = [
  { angle: 120, inferior: -0.05, gain: 1.2 },
  { angle: 95, inferior: 0, gain: 1.6 },
  { angle: 75, inferior: 0.05, gain: 1.9 },
  { angle: 58, inferior: 0.1, gain: 2.2 },
  { angle: 35, inferior: 0.12, gain: 2.2 },
  { angle: 10, inferior: 0.12, gain: 1.8 },
];
const PRECORDIAL_VECTORS: readonly Vec3[] = PRECORDIAL.map(({ angle, inferior, gain }) => [
  gain * Math.cos(angle * deg),
  gain * inferior,
  gain * Math.sin(angle * deg),
]);

/** A growing list of Gaussian dipole waves: center (s), width (s) and dipole moment (mV). */
class WaveList {
  readonly center: number[] = [];
  readonly sigma: number[] = [];
  readonly moment: Vec3[] = [];

  add(center: number, sigma: number, moment: Vec3): void {
    if (center + 4 * sigma < 0 || center - 4 * sigma > DURATION_S) return;
    this.center.push(center);
    this.sigma.push(sigma);
    this.moment.push(moment);
  }

  render(x: Float64Array, y: Float64Array, z: Float64Array): void {
    for (let w = 0; w < this.center.length; w++) {
      const c = this.center[w]! * SAMPLING_RATE;
      const s = this.sigma[w]! * SAMPLING_RATE;
      const [mx, my, mz] = this.moment[w]!;
      const first = Math.max(0, Math.ceil(c - 4 * s));
      const last = Math.min(SAMPLES_PER_LEAD - 1, Math.floor(c + 4 * s));
      const k = -0.5 / (s * s);
      for (let i = first; i <= last; i++) {
        const d = i - c;
        const g = Math.exp(k * d * d);
        x[i]! += mx * g;
        y[i]! += my * g;
        z[i]! += mz * g;
      }
    }
  }
}

const MAINS_HZ = 60;
const MAINS_SIN = new Float64Array(SAMPLES_PER_LEAD);
const MAINS_COS = new Float64Array(SAMPLES_PER_LEAD);
for (let i = 0; i < SAMPLES_PER_LEAD; i++) {
  MAINS_SIN[i] = Math.sin((2 * Math.PI * MAINS_HZ * i) / SAMPLING_RATE);
  MAINS_COS[i] = Math.cos((2 * Math.PI * MAINS_HZ * i) / SAMPLING_RATE);
}

/**
 * A fixed table of standard normal values; muscle noise reads it at seeded offsets and odd strides,
 * which is far cheaper than a Box-Muller draw per sample and just as white.
 */
const NORMAL_TABLE_BITS = 14;
const NORMAL_TABLE = (() => {
  const table = new Float32Array(1 << NORMAL_TABLE_BITS);
  let state = 0x2545f491;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) + 0.5) / 4294967296;
  };
  for (let i = 0; i < table.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const a = 2 * Math.PI * next();
    table[i] = r * Math.cos(a);
    table[i + 1] = r * Math.sin(a);
  }
  return table;
})();

const ELECTRODES = 9; // RA, LA, LL, V1..V6

/** Working buffers reused across calls (synthesis is synchronous), which spares the garbage collector. */
const scratch = {
  x: new Float64Array(SAMPLES_PER_LEAD),
  y: new Float64Array(SAMPLES_PER_LEAD),
  z: new Float64Array(SAMPLES_PER_LEAD),
  electrodes: Array.from({ length: ELECTRODES }, () => new Float64Array(SAMPLES_PER_LEAD)),
  lead1: new Float64Array(SAMPLES_PER_LEAD),
  lead2: new Float64Array(SAMPLES_PER_LEAD),
  wilson: new Float64Array(SAMPLES_PER_LEAD),
};

function sinusRate(rng: Rng, plan: EcgPlan, low: number, high: number): number {
  const { traits, ageYears } = plan;
  const mean = 74 + traits.heartRateOffsetBpm + (traits.female ? 3 : 0) - 0.05 * (ageYears - 50);
  return clamp(rng.gaussian(mean, 8), low, high);
}

function normalPr(rng: Rng, plan: EcgPlan): number {
  const ms = 150 + 0.45 * (plan.ageYears - 50) + plan.traits.prOffsetMs + rng.gaussian(0, 6);
  return clamp(ms, 122, 194) / 1000;
}

/** Heart-rate variability shrinks with age: one of the cues an age model can learn. */
function hrvScale(ageYears: number): number {
  return clamp(1.5 - 0.012 * ageYears, 0.35, 1.3);
}

interface SinusOptions {
  heartRate: number;
  pr: number;
  respiratoryModulation: number;
  jitter: number;
  ectopic?: { kind: 'pac' | 'pvc'; count: number; coupling: number };
}

function sinusRhythm(rng: Rng, options: SinusOptions): Rhythm {
  const rr0 = 60 / options.heartRate;
  const respiratoryHz = rng.between(0.18, 0.32);
  const respiratoryPhase = rng.between(0, 2 * Math.PI);
  const ectopicTimes: number[] = [];
  if (options.ectopic) {
    const span = 7 / options.ectopic.count;
    for (let i = 0; i < options.ectopic.count; i++)
      ectopicTimes.push(1.5 + span * i + rng.between(0, span * 0.7));
  }
  const beats: Beat[] = [];
  let t = -rng.between(0.2, rr0 + 0.2);
  beats.push({ qrsOnset: t, kind: 'normal', pr: options.pr });
  while (t < DURATION_S + 0.4) {
    const modulation =
      options.respiratoryModulation * Math.sin(2 * Math.PI * respiratoryHz * t + respiratoryPhase) +
      options.jitter * rng.normal();
    const interval = rr0 * (1 + modulation);
    if (options.ectopic && ectopicTimes.length > 0 && t + interval >= ectopicTimes[0]!) {
      ectopicTimes.shift();
      const ectopicOnset = t + options.ectopic.coupling * rr0;
      if (options.ectopic.kind === 'pac') {
        beats.push({ qrsOnset: ectopicOnset, kind: 'pac', pr: rng.between(0.12, 0.16) });
        t = ectopicOnset + rr0 * rng.between(1.0, 1.08);
      } else {
        beats.push({ qrsOnset: ectopicOnset, kind: 'pvc', pr: null });
        t += 2 * interval;
      }
    } else {
      t += interval;
    }
    beats.push({ qrsOnset: t, kind: 'normal', pr: options.pr });
  }
  return {
    beats,
    blockedP: [],
    atrial: 'sinus',
    flutterCycle: 0,
    flutterPhase: 0,
    meanHeartRate: options.heartRate,
    pr: options.pr,
    pAxisDeg: undefined,
  };
}

function fibrillation(rng: Rng, heartRate: number): Rhythm {
  const rr0 = 60 / heartRate;
  const start = -rng.between(0.2, rr0 + 0.2);
  const intervals: number[] = [];
  for (let t = start; t < DURATION_S + 0.6; ) {
    const interval = rr0 * clamp(1 + 0.24 * rng.normal(), 0.5, 1.8);
    intervals.push(interval);
    t += interval;
  }
  // Irregular intervals drift from the intended rate over ten seconds; rescale them so the rate
  // inside the record is the drawn one and "rapid ventricular response" stays above 100/min.
  let inside = 0;
  let insideCount = 0;
  for (let i = 0, t = start; i < intervals.length; t += intervals[i]!, i++) {
    if (t >= 0 && t + intervals[i]! < DURATION_S) {
      inside += intervals[i]!;
      insideCount++;
    }
  }
  const stretch = insideCount > 0 ? (rr0 * insideCount) / inside : 1;
  const beats: Beat[] = [];
  for (
    let i = 0, t = start;
    t < DURATION_S + 0.4 && i < intervals.length;
    t += intervals[i]! * stretch, i++
  ) {
    beats.push({ qrsOnset: t, kind: 'normal', pr: null });
  }
  return {
    beats,
    blockedP: [],
    atrial: 'fibrillation',
    flutterCycle: 0,
    flutterPhase: 0,
    meanHeartRate: heartRate,
    pr: null,
    pAxisDeg: undefined,
  };
}

function regular(rng: Rng, heartRate: number, kind: BeatKind, pr: number | null): Beat[] {
  const rr = 60 / heartRate;
  const beats: Beat[] = [];
  for (let t = -rng.between(0.2, rr + 0.2); t < DURATION_S + 0.4; t += rr)
    beats.push({ qrsOnset: t, kind, pr });
  return beats;
}

function otherRhythm(rng: Rng, kind: OtherRhythm): Rhythm {
  const base = {
    blockedP: [] as number[],
    atrial: 'sinus' as Rhythm['atrial'],
    flutterCycle: 0,
    flutterPhase: 0,
    pAxisDeg: undefined as number | undefined,
  };
  switch (kind) {
    case 'junctional': {
      const heartRate = rng.between(42, 58);
      const retrograde = rng.chance(0.4);
      const pr = retrograde ? -0.05 : null;
      return {
        ...base,
        beats: regular(rng, heartRate, 'normal', pr),
        atrial: retrograde ? 'sinus' : 'none',
        meanHeartRate: heartRate,
        pr,
        pAxisDeg: retrograde ? rng.between(-80, -60) : undefined,
      };
    }
    case 'flutter':
    case 'flutterVariable': {
      const cycle = 60 / rng.between(280, 320);
      const phase = rng.between(0, cycle);
      const beats: Beat[] = [];
      let t = phase - 4 * cycle + 0.22;
      let conducted = 0;
      while (t < DURATION_S + 0.4) {
        beats.push({ qrsOnset: t, kind: 'normal', pr: null });
        conducted++;
        const ratio = kind === 'flutter' ? 2 : rng.pick([2, 3, 4, 4]);
        t += ratio * cycle;
      }
      const span = beats[beats.length - 1]!.qrsOnset - beats[0]!.qrsOnset;
      return {
        ...base,
        beats,
        atrial: 'flutter',
        flutterCycle: cycle,
        flutterPhase: phase,
        meanHeartRate: (60 * (conducted - 1)) / span,
        pr: null,
      };
    }
    case 'wenckebach':
    case 'mobitz2': {
      const atrialRate = rng.between(62, 92);
      const pp = 60 / atrialRate;
      const pr0 = kind === 'wenckebach' ? rng.between(0.16, 0.2) : rng.between(0.15, 0.19);
      const groupSize = rng.pick([3, 4, 5]);
      const beats: Beat[] = [];
      const blockedP: number[] = [];
      let position = rng.int(0, groupSize - 1);
      for (let p = -rng.between(0.3, pp + 0.3); p < DURATION_S + 0.4; p += pp * (1 + 0.01 * rng.normal())) {
        if (position === groupSize - 1) {
          blockedP.push(p);
        } else {
          const increment = kind === 'wenckebach' ? 0.12 * (1 - 0.5 ** position) : 0;
          const pr = pr0 + increment;
          beats.push({ qrsOnset: p + pr, kind: 'normal', pr });
        }
        position = (position + 1) % groupSize;
      }
      return {
        ...base,
        beats,
        blockedP,
        meanHeartRate: (atrialRate * (groupSize - 1)) / groupSize,
        pr: pr0,
      };
    }
  }
}

function planRhythm(rng: Rng, plan: EcgPlan): Rhythm {
  const hrv = hrvScale(plan.ageYears);
  const sinus = (heartRate: number, pr: number, extra: Partial<SinusOptions> = {}): Rhythm =>
    sinusRhythm(rng, {
      heartRate,
      pr,
      respiratoryModulation: rng.between(0.005, 0.025) * hrv,
      jitter: 0.012 * hrv,
      ...extra,
    });
  switch (plan.arrhythmiaClass) {
    case 1:
      return sinus(rng.between(42, 58), normalPr(rng, plan));
    case 2:
      return sinus(rng.between(103, 140), normalPr(rng, plan) - 0.01);
    case 3:
      return fibrillation(rng, rng.between(62, 96));
    case 4:
      return sinus(sinusRate(rng, plan, 61, 95), rng.between(0.202, 0.218));
    case 5:
      return sinus(sinusRate(rng, plan, 61, 95), rng.between(0.224, 0.32));
    case 6:
      return fibrillation(rng, rng.between(106, 150));
    case 7:
      return sinus(sinusRate(rng, plan, 55, 95), normalPr(rng, plan), {
        respiratoryModulation: rng.between(0.1, 0.16),
        jitter: 0.02,
      });
    case 8:
    case 12:
      // Premature beats raise the measured rate; a base rate up to 88/min keeps it a sinus rhythm.
      return sinus(sinusRate(rng, plan, 62, 88), normalPr(rng, plan), {
        ectopic: {
          kind: plan.arrhythmiaClass === 8 ? 'pac' : 'pvc',
          count: rng.int(1, 3),
          coupling: rng.between(0.58, 0.74),
        },
      });
    case 9: {
      const heartRate = rng.pick([60, 60, 70, 72, 80]) + rng.between(-0.3, 0.3);
      const atrialTracking = rng.chance(0.5);
      const pr = atrialTracking ? rng.between(0.15, 0.2) : null;
      return {
        beats: regular(rng, heartRate, 'paced', pr),
        blockedP: [],
        atrial: atrialTracking ? 'sinus' : 'none',
        flutterCycle: 0,
        flutterPhase: 0,
        meanHeartRate: heartRate,
        pr,
        pAxisDeg: undefined,
      };
    }
    case 13: {
      const rhythm = sinus(sinusRate(rng, plan, 61, 96), rng.between(0.12, 0.16));
      rhythm.pAxisDeg = rng.chance(0.7) ? rng.between(-85, -35) : rng.between(150, 200);
      return rhythm;
    }
    case OTHER_CLASS:
      return otherRhythm(rng, plan.otherRhythm ?? 'junctional');
    default:
      return sinus(sinusRate(rng, plan, 61, 99), normalPr(rng, plan));
  }
}

interface Morphology {
  qrsDuration: number;
  qt: number;
  qtcMs: number;
  pDuration: number;
  pMoment: Vec3;
  qMoment: Vec3;
  rMoment: Vec3;
  sMoment: Vec3;
  tMoment: Vec3;
  tSigma: number;
  uMoment: Vec3;
  stMoment: Vec3;
  ectopicMoment: Vec3;
  ectopicTerminalMoment: Vec3;
  ectopicDuration: number;
  pacedDuration: number;
  spikeMoment: Vec3;
  rAmplitude: number;
  stTerritory: StTerritory | undefined;
}

/** Right-ventricular apical pacing: a wide complex pointing left, superior and posterior (LBBB-like). */
const PACED_MAIN: Vec3 = scale([0.55, -0.6, -0.8], 1.5);
const PACED_TERMINAL: Vec3 = scale([0.5, -0.3, -0.5], 0.6);

const ST_DIRECTIONS: Record<StTerritory, Vec3> = {
  anterior: [0.15, -0.1, 0.98],
  inferior: [0.05, 0.99, -0.1],
  lateral: [0.9, -0.35, 0.25],
};

function planMorphology(rng: Rng, plan: EcgPlan, rhythm: Rhythm): Morphology {
  const { traits, ageYears, potassium } = plan;
  const rr = 60 / rhythm.meanHeartRate;
  const age = ageYears - 50;
  const sexAmplitude = traits.female ? 0.82 : 1;
  const rAmplitude =
    1.3 *
    sexAmplitude *
    clamp(1 - 0.006 * age, 0.6, 1.3) *
    traits.rAmplitudeScale *
    Math.exp(rng.gaussian(0, 0.05));
  const qrsAxis = 58 - 0.55 * age + traits.qrsAxisOffsetDeg + rng.gaussian(0, 4);
  const tilt = Math.tan(-traits.posteriorTiltDeg * deg);
  const hyper = Math.max(0, potassium - 5.5);
  const hypo = Math.max(0, 3.6 - potassium);

  const qrsDuration =
    clamp(90 + (traits.female ? -6 : 0) + 0.1 * age + traits.qrsDurationOffsetMs, 72, 110) / 1000 +
    0.012 * Math.max(0, potassium - 6.2);
  const qtcMs = clamp(
    412 + (traits.female ? 14 : 0) + 0.35 * age + traits.qtcOffsetMs + 45 * hypo - 18 * hyper,
    360,
    520,
  );
  const qt = (qtcMs / 1000) * Math.sqrt(rr);

  // Potassium shapes repolarisation: tall, narrow T when high; flat T, ST sag and a U wave when low.
  const potassiumT = clamp(1 + 0.6 * (potassium - 4.3), 0.12, 3.2);
  const potassiumSigma = clamp(1 - 0.14 * (potassium - 4.3), 0.62, 1.25);
  const tAmplitude =
    0.34 *
    (traits.female ? 0.85 : 1) *
    clamp(1 - 0.004 * age, 0.7, 1.2) *
    traits.tAmplitudeScale *
    potassiumT *
    Math.exp(rng.gaussian(0, 0.08));
  const tAxis = 0.5 * qrsAxis + 22 + traits.tAxisOffsetDeg;

  let stTerritory: StTerritory | undefined;
  let stMoment: Vec3 = scale(frontal(tAxis, 0.3), -0.05 * hypo);
  let tMoment = scale(frontal(tAxis, 0.35), tAmplitude);
  if (plan.arrhythmiaClass === 10) {
    stTerritory = rng.pick(['anterior', 'anterior', 'inferior', 'lateral'] as const);
    const elevation = rng.between(0.16, 0.32);
    const direction = ST_DIRECTIONS[stTerritory];
    stMoment = scale(direction, elevation);
    tMoment = [
      tMoment[0] + direction[0] * elevation * 1.2,
      tMoment[1] + direction[1] * elevation * 1.2,
      tMoment[2] + direction[2] * elevation * 1.2,
    ];
  }

  const pAxis = rhythm.pAxisDeg ?? traits.pAxisDeg + 0.1 * age;
  const pAmplitude = rng.between(0.11, 0.17) * clamp(1 - 0.3 * hyper, 0.3, 1);
  const pvcAxis = rng.pick([80, 100, -60, -120, 200]);
  return {
    qrsDuration,
    qt,
    qtcMs,
    pDuration: clamp(rng.gaussian(96 + 0.3 * age, 6), 72, 124) / 1000,
    pMoment: scale(frontal(pAxis, rng.between(-0.1, 0.35)), pAmplitude),
    qMoment: scale([-0.42, 0.1, 0.9], 0.14 * rAmplitude),
    rMoment: scale(frontal(qrsAxis, tilt), rAmplitude),
    sMoment: scale(frontal(qrsAxis + 190, -1.4), 0.3 * rAmplitude),
    tMoment,
    tSigma: 0.042 * Math.sqrt(Math.sqrt(rr)) * potassiumSigma,
    uMoment: scale(frontal(tAxis, 0.8), 0.025 + 0.16 * hypo),
    stMoment,
    ectopicMoment: scale(frontal(pvcAxis, rng.between(-1, 1)), rng.between(1.4, 2.2)),
    ectopicTerminalMoment: scale(frontal(pvcAxis + rng.between(-50, 50), rng.between(-1, 1)), 0.5),
    ectopicDuration: rng.between(0.13, 0.17),
    pacedDuration: rng.between(0.14, 0.18),
    spikeMoment: scale(frontal(rng.between(-80, -40), rng.between(-1.5, 0.5)), rng.between(2, 4)),
    rAmplitude,
    stTerritory,
  };
}

/** Adds one beat's waves; returns the time of its R peak (the largest ventricular deflection). */
function addBeat(waves: WaveList, beat: Beat, m: Morphology, pMoment: Vec3): number {
  const onset = beat.qrsOnset;
  if (beat.pr !== null) {
    const pOnset = onset - beat.pr;
    waves.add(pOnset + m.pDuration / 2, m.pDuration / 5, pMoment);
  }
  if (beat.kind === 'pvc' || beat.kind === 'paced') {
    const d = beat.kind === 'paced' ? m.pacedDuration : m.ectopicDuration;
    const main = beat.kind === 'paced' ? PACED_MAIN : m.ectopicMoment;
    const terminal = beat.kind === 'paced' ? PACED_TERMINAL : m.ectopicTerminalMoment;
    if (beat.kind === 'paced') waves.add(onset - 0.002, 0.0012, m.spikeMoment);
    waves.add(onset + 0.35 * d, 0.14 * d, main);
    waves.add(onset + 0.72 * d, 0.11 * d, terminal);
    const tSigma = 0.055;
    const qt = m.qt + d - m.qrsDuration;
    const discordant = scale(main, -0.3);
    waves.add(onset + qt - 2.4 * tSigma, tSigma, discordant);
    return onset + 0.35 * d;
  }
  const d = m.qrsDuration;
  waves.add(onset + 0.15 * d, 0.07 * d, m.qMoment);
  waves.add(onset + 0.45 * d, 0.1 * d, m.rMoment);
  waves.add(onset + 0.76 * d, 0.09 * d, m.sMoment);
  waves.add(onset + d + 0.08, 0.06, m.stMoment);
  const tEnd = onset + m.qt;
  waves.add(tEnd - 2.5 * m.tSigma, m.tSigma, m.tMoment);
  waves.add(tEnd + 0.07, 0.035, m.uMoment);
  return onset + 0.45 * d;
}

/** Integral of a set of Gaussian waves' moments: the direction the cart's axis measurement reports. */
function axisDeg(parts: ReadonlyArray<[Vec3, number]>): number {
  let x = 0;
  let y = 0;
  for (const [moment, sigma] of parts) {
    x += moment[0] * sigma;
    y += moment[1] * sigma;
  }
  return Math.round(Math.atan2(y, x) / deg);
}

interface NoiseLevels {
  wanderMv: number;
  muscleMv: number;
  mainsMv: number;
  artifacts: boolean;
}

function noiseLevels(rng: Rng, poorQuality: boolean): NoiseLevels {
  if (poorQuality) {
    return {
      wanderMv: rng.between(0.4, 1.2),
      muscleMv: rng.between(0.05, 0.14),
      mainsMv: rng.between(0.01, 0.06),
      artifacts: true,
    };
  }
  return {
    wanderMv: rng.between(0.02, 0.2),
    muscleMv: rng.between(0.004, 0.02),
    mainsMv: rng.chance(0.3) ? rng.between(0.003, 0.015) : 0,
    artifacts: false,
  };
}

/** Baseline wander, muscle noise, mains pick-up and (poor quality) motion artifacts of one electrode. */
function addElectrodeNoise(rng: Rng, target: Float64Array, levels: NoiseLevels): void {
  const wanderAmplitude = levels.wanderMv * rng.between(0.3, 1);
  for (let component = 0; component < 2; component++) {
    const hz = component === 0 ? rng.between(0.05, 0.3) : rng.between(0.2, 0.6);
    const amplitude = component === 0 ? wanderAmplitude : wanderAmplitude * 0.4;
    const step = (2 * Math.PI * hz) / SAMPLING_RATE;
    const cosStep = Math.cos(step);
    const sinStep = Math.sin(step);
    const phase = rng.between(0, 2 * Math.PI);
    let s = Math.sin(phase) * amplitude;
    let c = Math.cos(phase) * amplitude;
    for (let i = 0; i < SAMPLES_PER_LEAD; i++) {
      target[i]! += s;
      const nextS = s * cosStep + c * sinStep;
      c = c * cosStep - s * sinStep;
      s = nextS;
    }
  }
  const muscle = levels.muscleMv * rng.between(0.5, 1);
  const mask = (1 << NORMAL_TABLE_BITS) - 1;
  let index = rng.nextUint32() & mask;
  const stride = (rng.nextUint32() & mask) | 1;
  for (let i = 0; i < SAMPLES_PER_LEAD; i++) {
    target[i]! += muscle * NORMAL_TABLE[index]!;
    index = (index + stride) & mask;
  }
  if (levels.mainsMv > 0) {
    const amplitude = levels.mainsMv * rng.between(0.2, 1);
    const phase = rng.between(0, 2 * Math.PI);
    const a = amplitude * Math.cos(phase);
    const b = amplitude * Math.sin(phase);
    for (let i = 0; i < SAMPLES_PER_LEAD; i++) target[i]! += a * MAINS_SIN[i]! + b * MAINS_COS[i]!;
  }
  if (levels.artifacts && rng.chance(0.5)) {
    // Electrode motion: sudden offsets that decay as the electrode-skin interface recovers.
    const events = rng.int(1, 4);
    for (let e = 0; e < events; e++) {
      const start = rng.int(0, SAMPLES_PER_LEAD - 1);
      const jump = rng.gaussian(0, 1.2);
      const decay = Math.exp(-1 / (SAMPLING_RATE * rng.between(0.15, 0.6)));
      let offset = jump;
      for (let i = start; i < SAMPLES_PER_LEAD; i++) {
        target[i]! += offset;
        offset *= decay;
      }
    }
  }
  if (levels.artifacts && rng.chance(0.3)) {
    // Bursts of muscle activity (shivering, movement).
    const start = rng.int(0, SAMPLES_PER_LEAD - 500);
    const length = rng.int(300, 1500);
    const amplitude = rng.between(0.15, 0.45);
    for (let i = start; i < Math.min(SAMPLES_PER_LEAD, start + length); i++) {
      target[i]! += amplitude * NORMAL_TABLE[index]!;
      index = (index + stride) & mask;
    }
  }
}

function addAtrialActivity(
  rng: Rng,
  rhythm: Rhythm,
  x: Float64Array,
  y: Float64Array,
  z: Float64Array,
): void {
  if (rhythm.atrial === 'fibrillation') {
    const components = [0, 1, 2].map(() => ({
      hz: rng.between(4.5, 8.5),
      phase: rng.between(0, 2 * Math.PI),
      amplitude: rng.between(0.015, 0.05),
    }));
    const direction = frontal(rng.between(40, 120), rng.between(0.8, 2));
    for (let i = 0; i < SAMPLES_PER_LEAD; i++) {
      const t = i / SAMPLING_RATE;
      let v = 0;
      for (const c of components)
        v += c.amplitude * Math.sin(2 * Math.PI * c.hz * t + c.phase + 0.6 * Math.sin(1.3 * t));
      x[i]! += v * direction[0];
      y[i]! += v * direction[1];
      z[i]! += v * direction[2];
    }
  } else if (rhythm.atrial === 'flutter') {
    // Counter-clockwise flutter: a slow descent and a fast return, negative in the inferior leads.
    const amplitude = rng.between(0.15, 0.3);
    const direction = frontal(rng.between(80, 100), rng.between(-0.5, 0.5));
    for (let i = 0; i < SAMPLES_PER_LEAD; i++) {
      const cycles = (i / SAMPLING_RATE - rhythm.flutterPhase) / rhythm.flutterCycle;
      const p = cycles - Math.floor(cycles);
      const saw = p < 0.7 ? -p / 0.7 : -1 + (p - 0.7) / 0.3;
      const v = amplitude * (saw + 0.5);
      x[i]! += v * direction[0];
      y[i]! += v * direction[1];
      z[i]! += v * direction[2];
    }
  }
}

/** Rounds half away from zero and saturates; Math.round and Math.min/max cost a third of the run time here. */
function toAdc(mv: number): number {
  const adc = mv * ADC_GAIN;
  // -32768 is format 16's "no sample" marker; a real cart saturates one step above it.
  if (adc >= 32767) return 32767;
  if (adc <= -32767) return -32767;
  return adc < 0 ? -((0.5 - adc) | 0) : (adc + 0.5) | 0;
}

/** Generates one 12-lead, 500 Hz, 10 s ECG and the cart's measurements of it. */
export function synthesizeEcg(rng: Rng, plan: EcgPlan): SynthesizedEcg {
  const rhythm = planRhythm(rng, plan);
  const m = planMorphology(rng, plan, rhythm);
  const waves = new WaveList();
  const pacPMoment = scale(frontal(rng.between(-60, 20), 0.4), 0.12);
  const rPeaks: number[] = [];
  for (const beat of rhythm.beats) {
    const r = addBeat(waves, beat, m, beat.kind === 'pac' ? pacPMoment : m.pMoment);
    const complete = beat.qrsOnset >= 0 && beat.qrsOnset + m.qrsDuration < DURATION_S;
    if (complete) rPeaks.push(r);
  }
  for (const pOnset of rhythm.blockedP) waves.add(pOnset + m.pDuration / 2, m.pDuration / 5, m.pMoment);

  const { x, y, z, electrodes, lead1, lead2, wilson } = scratch;
  x.fill(0);
  y.fill(0);
  z.fill(0);
  waves.render(x, y, z);
  addAtrialActivity(rng, rhythm, x, y, z);

  const levels = noiseLevels(rng, plan.arrhythmiaClass === 11);
  for (const electrode of electrodes) {
    electrode.fill(0);
    addElectrodeNoise(rng, electrode, levels);
  }
  const [ra, la, ll] = electrodes as [Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < SAMPLES_PER_LEAD; i++) {
    lead1[i] = x[i]! + la[i]! - ra[i]!;
    lead2[i] = 0.5 * x[i]! + 0.866 * y[i]! + ll[i]! - ra[i]!;
    wilson[i] = (ra[i]! + la[i]! + ll[i]!) / 3;
  }

  // Lead-major passes over the interleaved output keep each inner loop simple and fast.
  const samples = new Int16Array(SAMPLES_PER_LEAD * LEAD_COUNT);
  for (let i = 0, base = 0; i < SAMPLES_PER_LEAD; i++, base += LEAD_COUNT) {
    const one = lead1[i]!;
    const two = lead2[i]!;
    samples[base] = toAdc(one);
    samples[base + 1] = toAdc(two);
    samples[base + 2] = toAdc(two - one);
    samples[base + 3] = toAdc(-(one + two) / 2);
    samples[base + 4] = toAdc(two - one / 2);
    samples[base + 5] = toAdc(one - two / 2);
  }
  for (let v = 0; v < 6; v++) {
    const [gx, gy, gz] = PRECORDIAL_VECTORS[v]!;
    const electrode = electrodes[3 + v]!;
    for (let i = 0, at = 6 + v; i < SAMPLES_PER_LEAD; i++, at += LEAD_COUNT) {
      samples[at] = toAdc(gx * x[i]! + gy * y[i]! + gz * z[i]! + electrode[i]! - wilson[i]!);
    }
  }

  return {
    samples,
    measurements: measure(rng, plan, rhythm, m, rPeaks),
    findings: {
      qtcMs: m.qtcMs,
      lowVoltageLimb: m.rAmplitude < 0.62,
      lowVoltagePrecordial: m.rAmplitude < 0.55,
      highVoltage: m.rAmplitude > 1.95,
      flatT: Math.hypot(...m.tMoment) < 0.1,
      stTerritory: m.stTerritory,
      paced: plan.arrhythmiaClass === 9,
    },
    rPeaks,
  };
}

function measure(rng: Rng, plan: EcgPlan, rhythm: Rhythm, m: Morphology, rPeaks: number[]): EcgMeasurements {
  const first = rPeaks[0];
  const last = rPeaks[rPeaks.length - 1];
  const rrIntervalMs =
    first !== undefined && last !== undefined && rPeaks.length > 1
      ? Math.round(((last - first) / (rPeaks.length - 1)) * 1000)
      : Math.round(60000 / rhythm.meanHeartRate);
  const paced = plan.arrhythmiaClass === 9;
  const qrsMs = Math.round((paced ? m.pacedDuration : m.qrsDuration) * 1000);
  const hasP = rhythm.pr !== null && rhythm.pr > 0;
  const pOnsetMs = hasP ? rng.int(20, 60) : null;
  const qrsOnsetMs = pOnsetMs !== null ? pOnsetMs + Math.round(rhythm.pr! * 1000) : rng.int(150, 220);
  const qtMs = Math.round((paced ? m.qt + m.pacedDuration - m.qrsDuration : m.qt) * 1000);
  const pSigma = m.pDuration / 5;
  const qrsParts: Array<[Vec3, number]> = paced
    ? [[PACED_MAIN, 0.14 * m.pacedDuration]]
    : [
        [m.qMoment, 0.07 * m.qrsDuration],
        [m.rMoment, 0.1 * m.qrsDuration],
        [m.sMoment, 0.09 * m.qrsDuration],
      ];
  return {
    rrIntervalMs,
    pOnsetMs,
    pEndMs: pOnsetMs !== null ? pOnsetMs + Math.round(m.pDuration * 1000) : null,
    qrsOnsetMs,
    qrsEndMs: qrsOnsetMs + qrsMs,
    tEndMs: qrsOnsetMs + qtMs,
    pAxisDeg: hasP ? axisDeg([[m.pMoment, pSigma]]) : null,
    qrsAxisDeg: axisDeg(qrsParts),
    tAxisDeg: paced ? axisDeg([[scale(PACED_MAIN, -1), 1]]) : axisDeg([[m.tMoment, m.tSigma]]),
  };
}
