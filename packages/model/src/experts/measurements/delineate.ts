/**
 * Delineation of a record's representative beat: per lead, the sample-wise median of the dominant
 * beats aligned on their fiducial points; then QRS onset and end from the spatial velocity, the P wave
 * before the QRS, the T wave after it (end by the tangent method), all on the leads together so one
 * lead's flat wave does not hide a wave the others show.
 */

export interface MedianBeat {
  /** One array per lead (same order as the input leads), samples from -pre to +post around the fiducial. */
  leads: Float64Array[];
  /** Index of the fiducial point inside each array. */
  fiducial: number;
  /** Beats averaged (the dominant ones). */
  beats: number;
  /** Share of beats left out as not matching the dominant QRS shape (ectopic, artefact). */
  ectopicFraction: number;
  /** RMS difference between the averaged beats and the median, per lead, averaged (mV). */
  residualMv: number;
  /** Per sample, the root of the summed (over leads) variance of the beats around the median (mV). */
  spread: Float64Array;
}

/** Correlation of a beat's QRS with the first median's, below which the beat is not dominant. */
const DOMINANT_CORRELATION = 0.9;

export function medianBeat(
  signals: readonly Float64Array[],
  beats: readonly number[],
  pre: number,
  post: number,
): MedianBeat | undefined {
  const n = signals[0]?.length ?? 0;
  const usable = beats.filter((at) => at - pre >= 0 && at + post < n);
  if (usable.length === 0 || signals.length === 0) return undefined;
  const length = pre + post + 1;
  const medianOf = (chosen: readonly number[]) =>
    signals.map((signal) => {
      const out = new Float64Array(length);
      const column = new Float64Array(chosen.length);
      for (let t = 0; t < length; t++) {
        chosen.forEach((at, k) => {
          column[k] = signal[at - pre + t] as number;
        });
        column.sort();
        const mid = column.length >> 1;
        out[t] =
          column.length % 2 === 1
            ? (column[mid] as number)
            : ((column[mid - 1] as number) + (column[mid] as number)) / 2;
      }
      return out;
    });
  const first = medianOf(usable);
  // The QRS region (fiducial ± 60 ms, as a share of the window) decides which beats are dominant.
  const half = Math.max(2, Math.round(post * 0.12));
  const from = Math.max(0, pre - half);
  const to = Math.min(length - 1, pre + half);
  const dominant = usable.filter((at) => {
    let dot = 0;
    let aa = 0;
    let bb = 0;
    signals.forEach((signal, lead) => {
      const template = first[lead] as Float64Array;
      let meanA = 0;
      let meanB = 0;
      for (let t = from; t <= to; t++) {
        meanA += signal[at - pre + t] as number;
        meanB += template[t] as number;
      }
      meanA /= to - from + 1;
      meanB /= to - from + 1;
      for (let t = from; t <= to; t++) {
        const a = (signal[at - pre + t] as number) - meanA;
        const b = (template[t] as number) - meanB;
        dot += a * b;
        aa += a * a;
        bb += b * b;
      }
    });
    return aa > 0 && bb > 0 && dot / Math.sqrt(aa * bb) >= DOMINANT_CORRELATION;
  });
  const chosen = dominant.length >= Math.max(1, Math.ceil(usable.length / 3)) ? dominant : usable;
  const leads = chosen === usable ? first : medianOf(chosen);
  let residual = 0;
  const spread = new Float64Array(length);
  signals.forEach((signal, lead) => {
    const template = leads[lead] as Float64Array;
    let sum = 0;
    for (const at of chosen) {
      for (let t = 0; t < length; t++) {
        const d = (signal[at - pre + t] as number) - (template[t] as number);
        sum += d * d;
        spread[t] = (spread[t] as number) + (d * d) / chosen.length;
      }
    }
    residual += Math.sqrt(sum / (chosen.length * length));
  });
  for (let t = 0; t < length; t++) spread[t] = Math.sqrt(spread[t] as number);
  return {
    leads,
    fiducial: pre,
    beats: chosen.length,
    ectopicFraction: 1 - dominant.length / usable.length,
    residualMv: residual / signals.length,
    spread,
  };
}

export interface Delineation {
  /** Sample offsets inside the median beat; NaN where the wave was not found. */
  qrsOnset: number;
  qrsEnd: number;
  pOnset: number;
  pPeak: number;
  pEnd: number;
  tPeak: number;
  tEnd: number;
  /** Per lead, the isoelectric level (mV) just before the QRS, which amplitudes are measured from. */
  baseline: Float64Array;
  /** Spatial (root of the sum over leads of squares) amplitudes from the baseline (mV). */
  pAmplitude: number;
  tAmplitude: number;
  qrsAmplitude: number;
  /** Full width at half maximum of the spatial T wave (samples). */
  tWidth: number;
}

/** Lowest spatial P amplitude (mV) that counts as a P wave, and its lowest ratio to the beat's noise. */
const P_MIN_MV = 0.03;
const P_MIN_SNR = 3;
const T_MIN_MV = 0.03;
/** QRS onset and end: where the spatial velocity falls below this share of its peak. */
const QRS_VELOCITY_SHARE = 0.1;

export function delineate(beat: MedianBeat, samplingRate: number, rrSamples: number): Delineation {
  const { leads, fiducial } = beat;
  const length = (leads[0] as Float64Array).length;
  const ms = (value: number) => Math.round((value / 1000) * samplingRate);
  const velocity = new Float64Array(length);
  for (let t = 1; t < length - 1; t++) {
    let sum = 0;
    for (const lead of leads) {
      const d = ((lead[t + 1] as number) - (lead[t - 1] as number)) / 2;
      sum += d * d;
    }
    velocity[t] = Math.sqrt(sum);
  }
  // QRS: where the spatial velocity stays above a share of its peak near the fiducial point.
  let peak = fiducial;
  for (let t = Math.max(1, fiducial - ms(60)); t <= Math.min(length - 2, fiducial + ms(60)); t++) {
    if ((velocity[t] as number) > (velocity[peak] as number)) peak = t;
  }
  const threshold = QRS_VELOCITY_SHARE * (velocity[peak] as number);
  const quiet = Math.max(2, ms(8));
  const walk = (from: number, step: -1 | 1, limit: number) => {
    let t = from;
    let run = 0;
    let edge = from;
    while (t + step >= 1 && t + step <= length - 2 && Math.abs(t - from) < limit) {
      t += step;
      if ((velocity[t] as number) < threshold) {
        if (run === 0) edge = t;
        run++;
        if (run >= quiet) return edge;
      } else {
        run = 0;
      }
    }
    return run > 0 ? edge : t;
  };
  const qrsOnset = walk(Math.min(peak, fiducial), -1, ms(120));
  const qrsEnd = walk(Math.max(peak, fiducial), 1, ms(160));

  const baseline = new Float64Array(leads.length);
  const isoFrom = Math.max(0, qrsOnset - ms(20));
  leads.forEach((lead, l) => {
    let sum = 0;
    for (let t = isoFrom; t <= qrsOnset; t++) sum += lead[t] as number;
    baseline[l] = sum / (qrsOnset - isoFrom + 1);
  });
  const spatial = new Float64Array(length);
  for (let t = 0; t < length; t++) {
    let sum = 0;
    leads.forEach((lead, l) => {
      const d = (lead[t] as number) - (baseline[l] as number);
      sum += d * d;
    });
    spatial[t] = Math.sqrt(sum);
  }
  let qrsAmplitude = 0;
  for (let t = qrsOnset; t <= qrsEnd; t++) qrsAmplitude = Math.max(qrsAmplitude, spatial[t] as number);

  // P: the largest spatial deflection 40-300 ms before the QRS, if it stands out from the beat-to-beat
  // spread there (atrial fibrillation waves are not locked to the QRS, so they average out and fail).
  const pFrom = Math.max(0, qrsOnset - Math.min(ms(300), Math.round(0.45 * rrSamples)));
  const pTo = qrsOnset - ms(40);
  let pPeak = Number.NaN;
  let pAmplitude = Number.NaN;
  let pOnset = Number.NaN;
  let pEnd = Number.NaN;
  if (pTo > pFrom) {
    let best = pFrom;
    for (let t = pFrom; t <= pTo; t++) if ((spatial[t] as number) > (spatial[best] as number)) best = t;
    const amplitude = spatial[best] as number;
    let floor = amplitude;
    let spread = 0;
    for (let t = pFrom; t <= pTo; t++) {
      floor = Math.min(floor, spatial[t] as number);
      spread += (beat.spread[t] as number) / (pTo - pFrom + 1);
    }
    const noise = spread / Math.sqrt(Math.max(1, beat.beats - 1));
    const isPeak = best > pFrom && best < pTo;
    if (isPeak && amplitude - floor >= P_MIN_MV && amplitude - floor >= P_MIN_SNR * noise) {
      pPeak = best;
      pAmplitude = amplitude;
      const edge = floor + 0.1 * (amplitude - floor);
      let on = best;
      while (on > pFrom && (spatial[on] as number) > edge) on--;
      let end = best;
      while (end < qrsOnset && (spatial[end] as number) > edge) end++;
      pOnset = on;
      pEnd = end;
    }
  }

  // T: the largest spatial deflection from 80 ms after the QRS to 70% of the RR (the window's end at most).
  const tFrom = qrsEnd + ms(80);
  const tTo = Math.min(length - 2, fiducial + Math.round(0.7 * rrSamples));
  let tPeak = Number.NaN;
  let tEnd = Number.NaN;
  let tAmplitude = Number.NaN;
  let tWidth = Number.NaN;
  if (tTo > tFrom) {
    let best = tFrom;
    for (let t = tFrom; t <= tTo; t++) if ((spatial[t] as number) > (spatial[best] as number)) best = t;
    const amplitude = spatial[best] as number;
    if (best > tFrom && amplitude >= T_MIN_MV) {
      tPeak = best;
      tAmplitude = amplitude;
      // Tangent method: the steepest descent after the peak, extended to the baseline.
      let steepest = best;
      let slope = 0;
      for (let t = best + 1; t < Math.min(length - 1, best + ms(200)); t++) {
        const s = ((spatial[t + 1] as number) - (spatial[t - 1] as number)) / 2;
        if (s < slope) {
          slope = s;
          steepest = t;
        }
      }
      tEnd = slope < 0 ? steepest - (spatial[steepest] as number) / slope : Number.NaN;
      let left = best;
      while (left > qrsEnd && (spatial[left] as number) > amplitude / 2) left--;
      let right = best;
      while (right < length - 1 && (spatial[right] as number) > amplitude / 2) right++;
      tWidth = right - left;
    }
  }
  return {
    qrsOnset,
    qrsEnd,
    pOnset,
    pPeak,
    pEnd,
    tPeak,
    tEnd,
    baseline,
    pAmplitude,
    tAmplitude,
    qrsAmplitude,
    tWidth,
  };
}

/**
 * Each beat's fiducial point moved to where its QRS best matches the median beat's (normalised
 * correlation over the leads, within ±`radius` samples): a precise, uniform timing for every beat,
 * also for complexes cut by the record's edges, where the detectors' energy peaks are biased.
 */
export function alignBeats(
  signals: readonly Float64Array[],
  beats: readonly number[],
  beat: MedianBeat,
  qrsOnset: number,
  qrsEnd: number,
  radius: number,
): number[] {
  const n = signals[0]?.length ?? 0;
  const from = qrsOnset - beat.fiducial;
  const to = qrsEnd - beat.fiducial;
  return beats.map((at) => {
    let best = at;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let shift = -radius; shift <= radius; shift++) {
      const centre = at + shift;
      const lo = Math.max(from, -centre);
      const hi = Math.min(to, n - 1 - centre);
      if (hi - lo < (to - from) / 2) continue;
      let dot = 0;
      let aa = 0;
      let bb = 0;
      signals.forEach((signal, lead) => {
        const template = beat.leads[lead] as Float64Array;
        let meanA = 0;
        let meanB = 0;
        for (let t = lo; t <= hi; t++) {
          meanA += signal[centre + t] as number;
          meanB += template[beat.fiducial + t] as number;
        }
        meanA /= hi - lo + 1;
        meanB /= hi - lo + 1;
        for (let t = lo; t <= hi; t++) {
          const a = (signal[centre + t] as number) - meanA;
          const b = (template[beat.fiducial + t] as number) - meanB;
          dot += a * b;
          aa += a * a;
          bb += b * b;
        }
      });
      const score = aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : Number.NEGATIVE_INFINITY;
      if (score > bestScore) {
        bestScore = score;
        best = centre;
      }
    }
    return best;
  });
}
