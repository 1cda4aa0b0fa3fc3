import { bandPass, movingAverage } from './filters.ts';

/**
 * QRS detection after Pan and Tompkins (IEEE Trans Biomed Eng 32(3), 1985): 5-15 Hz band-pass,
 * five-point derivative, squaring, 150 ms moving-window integration, then adaptive signal and noise
 * peak levels with two thresholds, a 200 ms refractory period, the 360 ms T-wave slope test and a
 * search back at half threshold after 1.66 mean RR without a beat. Filters are zero-phase here, so the
 * integrated peak sits on the QRS rather than one window later.
 */
export interface LeadDetection {
  /** Sample indices of the detected QRS complexes (peaks of the integrated signal), ascending. */
  peaks: number[];
  /** Squared slope of the band-passed signal, scaled by the lead's running QRS level (unitless). */
  energy: Float64Array;
}

const REFRACTORY_S = 0.2;
const T_WAVE_WINDOW_S = 0.36;
const INTEGRATION_S = 0.15;
const LEARNING_S = 2;

export function detectQrsInLead(signal: Float64Array, samplingRate: number): LeadDetection {
  const n = signal.length;
  const filtered = bandPass(signal, samplingRate, 5, 15);
  const slope = new Float64Array(n);
  const step = 1 / samplingRate;
  for (let i = 2; i < n - 2; i++) {
    slope[i] =
      (2 * (filtered[i + 1] as number) +
        (filtered[i + 2] as number) -
        2 * (filtered[i - 1] as number) -
        (filtered[i - 2] as number)) /
      (8 * step);
  }
  const squared = slope.map((v) => v * v);
  const integrated = movingAverage(squared, Math.max(1, Math.round(INTEGRATION_S * samplingRate)) | 1);
  const refractory = Math.round(REFRACTORY_S * samplingRate);
  const candidates = localMaxima(integrated, Math.round(0.05 * samplingRate));

  const learning = Math.min(n, Math.round(LEARNING_S * samplingRate));
  let learnMax = 0;
  let learnSum = 0;
  for (let i = 0; i < learning; i++) {
    learnMax = Math.max(learnMax, integrated[i] as number);
    learnSum += integrated[i] as number;
  }
  let signalLevel = learnMax / 3;
  let noiseLevel = learnSum / Math.max(1, learning) / 2;
  const threshold = () => noiseLevel + 0.25 * (signalLevel - noiseLevel);

  const peaks: number[] = [];
  const maxSlope = (at: number) => {
    let best = 0;
    const lo = Math.max(0, at - Math.round(0.075 * samplingRate));
    for (let i = lo; i <= at; i++) best = Math.max(best, Math.abs(slope[i] as number));
    return best;
  };
  const rrs: number[] = [];
  const accept = (at: number, searchBack: boolean) => {
    const value = integrated[at] as number;
    signalLevel = searchBack ? 0.25 * value + 0.75 * signalLevel : 0.125 * value + 0.875 * signalLevel;
    const previous = peaks[peaks.length - 1];
    if (previous !== undefined) {
      rrs.push(at - previous);
      if (rrs.length > 8) rrs.shift();
    }
    peaks.push(at);
  };
  let lastCandidate = -1;
  for (let c = 0; c < candidates.length; c++) {
    const at = candidates[c] as number;
    const value = integrated[at] as number;
    const previous = peaks[peaks.length - 1];
    // Search back: too long without a beat, take the largest skipped candidate above half threshold.
    if (previous !== undefined && rrs.length > 0) {
      const meanRr = rrs.reduce((a, b) => a + b, 0) / rrs.length;
      if (at - previous > 1.66 * meanRr) {
        let best = -1;
        for (let k = lastCandidate + 1; k < c; k++) {
          const earlier = candidates[k] as number;
          if (earlier - previous < refractory) continue;
          if ((integrated[earlier] as number) > 0.5 * threshold()) {
            if (best < 0 || (integrated[earlier] as number) > (integrated[best] as number)) best = earlier;
          }
        }
        if (best >= 0) accept(best, true);
      }
    }
    const last = peaks[peaks.length - 1];
    if (last !== undefined && at - last < refractory) {
      lastCandidate = c;
      continue;
    }
    if (value > threshold()) {
      const isTWave =
        last !== undefined &&
        at - last < T_WAVE_WINDOW_S * samplingRate &&
        maxSlope(at) < 0.5 * maxSlope(last);
      if (isTWave) noiseLevel = 0.125 * value + 0.875 * noiseLevel;
      else accept(at, false);
    } else {
      noiseLevel = 0.125 * value + 0.875 * noiseLevel;
    }
    lastCandidate = c;
  }
  // The T-wave test backwards for the first beat, which has no predecessor to be tested against.
  const [first, second] = peaks;
  if (
    first !== undefined &&
    second !== undefined &&
    second - first < T_WAVE_WINDOW_S * samplingRate &&
    maxSlope(first) < 0.5 * maxSlope(second)
  ) {
    peaks.shift();
  }
  const scale = signalLevel > 0 ? 1 / signalLevel : 0;
  return { peaks, energy: integrated.map((v) => v * scale) };
}

/** Indices that are the maximum of their ±`radius` neighbourhood (first of equal values), ascending. */
function localMaxima(values: Float64Array, radius: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v <= 0) continue;
    let isMax = true;
    const lo = Math.max(0, i - radius);
    const hi = Math.min(values.length - 1, i + radius);
    for (let j = lo; j <= hi && isMax; j++) {
      const w = values[j] as number;
      if (w > v || (w === v && j < i)) isMax = false;
    }
    if (isMax) out.push(i);
  }
  return out;
}

export interface ConsensusBeats {
  /** Beat fiducial points (sample indices), ascending. */
  beats: number[];
  /** Per usable lead, the share of consensus beats it detected within the window. */
  leadAgreement: number[];
}

/**
 * Multi-lead consensus: detections of all usable leads within `windowS` of each other form one
 * candidate beat, kept when at least half of the leads (at least one) voted for it. The beat's
 * fiducial point is the maximum of the leads' summed normalised QRS energy near the votes, so every
 * beat is timed by the same rule whichever leads found it.
 */
export function consensusBeats(
  detections: readonly LeadDetection[],
  samplingRate: number,
  windowS = 0.1,
): ConsensusBeats {
  const window = Math.round(windowS * samplingRate);
  const votes: Array<{ at: number; lead: number }> = [];
  detections.forEach((detection, lead) => {
    for (const at of detection.peaks) votes.push({ at, lead });
  });
  votes.sort((a, b) => a.at - b.at || a.lead - b.lead);
  const needed = Math.max(1, Math.ceil(detections.length / 2));
  const n = detections[0]?.energy.length ?? 0;
  const combined = new Float64Array(n);
  for (const detection of detections) {
    for (let i = 0; i < n; i++) combined[i] = (combined[i] as number) + (detection.energy[i] as number);
  }
  const clusters: Array<{ at: number; votes: number }> = [];
  for (let i = 0; i < votes.length; ) {
    const start = (votes[i] as { at: number }).at;
    const leads = new Set<number>();
    const times: number[] = [];
    let j = i;
    while (j < votes.length && (votes[j] as { at: number }).at - start <= window) {
      const vote = votes[j] as { at: number; lead: number };
      if (!leads.has(vote.lead)) {
        leads.add(vote.lead);
        times.push(vote.at);
      }
      j++;
    }
    i = j;
    if (leads.size < needed) continue;
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] as number;
    let best = median;
    for (let k = Math.max(0, median - window); k <= Math.min(n - 1, median + window); k++) {
      if ((combined[k] as number) > (combined[best] as number)) best = k;
    }
    clusters.push({ at: best, votes: leads.size });
  }
  // Two clusters closer than the refractory period are one beat: keep the better supported one.
  const refractory = Math.round(REFRACTORY_S * samplingRate);
  const beats: Array<{ at: number; votes: number }> = [];
  for (const cluster of clusters) {
    const last = beats[beats.length - 1];
    if (last && cluster.at - last.at < refractory) {
      if (cluster.votes > last.votes) beats[beats.length - 1] = cluster;
    } else {
      beats.push(cluster);
    }
  }
  const beatTimes = beats.map((b) => b.at);
  const leadAgreement = detections.map((detection) => {
    if (beatTimes.length === 0) return 0;
    let found = 0;
    for (const beat of beatTimes) {
      if (detection.peaks.some((p) => Math.abs(p - beat) <= window)) found++;
    }
    return found / beatTimes.length;
  });
  return { beats: beatTimes, leadAgreement };
}
