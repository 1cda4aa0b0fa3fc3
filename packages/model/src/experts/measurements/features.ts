import type { Measurements } from './measure.ts';

/**
 * One embedding element: the measurement `(value - center) / scale`, clipped to ±CLIP; a measurement
 * that could not be taken becomes 0 (the center, a typical adult value) and its group's flag says so.
 * Centers and scales put typical values within about ±2, as the heads' frozen random layers expect.
 */
export interface FeatureSpec {
  name: string;
  unit: string;
  center: number;
  scale: number;
  description: string;
}

const CLIP = 8;

const f = (name: string, unit: string, center: number, scale: number, description: string): FeatureSpec => ({
  name,
  unit,
  center,
  scale,
  description,
});
const flag = (name: string, description: string) => f(name, 'flag', 0, 1, description);

const RECORD_FEATURES: readonly FeatureSpec[] = [
  f('beats', 'count', 12, 5, 'QRS complexes found by the multi-lead consensus'),
  f('rr_mean_ms', 'ms', 850, 200, 'mean RR of complete complexes: (last R - first R) / (beats - 1)'),
  f('rr_std_ms', 'ms', 50, 50, 'standard deviation of the RR intervals'),
  f('rr_min_ms', 'ms', 800, 200, 'shortest RR interval'),
  f('rr_max_ms', 'ms', 900, 250, 'longest RR interval'),
  f('rr_rmssd_ms', 'ms', 40, 50, 'root mean square of successive RR differences'),
  f('rr_pnn50', 'fraction', 0.2, 0.3, 'share of successive RR differences above 50 ms'),
  f('rr_cv', 'ratio', 0.06, 0.08, 'RR standard deviation / mean RR'),
  f('rr_irregularity', 'ratio', 0.04, 0.08, 'median |successive RR difference| / mean RR'),
  f('heart_rate_bpm', 'bpm', 75, 20, '60000 / mean RR'),
  f(
    'ectopic_fraction',
    'fraction',
    0.05,
    0.15,
    'beats whose QRS does not match the dominant shape (correlation < 0.9)',
  ),
  f('beat_residual_mv', 'mV', 0.05, 0.1, 'RMS difference of the dominant beats from their median beat'),
  f('qrs_ms', 'ms', 95, 20, 'QRS duration (spatial velocity above 10% of its peak)'),
  f('pr_ms', 'ms', 160, 40, 'P onset to QRS onset'),
  f('p_duration_ms', 'ms', 100, 30, 'P onset to P end'),
  f('qt_ms', 'ms', 400, 50, 'QRS onset to T end (tangent method on the spatial T wave)'),
  f('qtc_bazett_ms', 'ms', 430, 40, 'QT / sqrt(RR in s)'),
  f('qtc_fridericia_ms', 'ms', 420, 40, 'QT / cbrt(RR in s)'),
  f('t_peak_to_end_ms', 'ms', 90, 30, 'T peak to T end'),
  f('t_width_ms', 'ms', 150, 50, 'full width at half maximum of the spatial T wave'),
  f('p_amplitude_mv', 'mV', 0.12, 0.1, 'spatial P amplitude from the PR-segment level'),
  f('t_amplitude_mv', 'mV', 0.4, 0.3, 'spatial T amplitude from the PR-segment level'),
  f('qrs_amplitude_mv', 'mV', 1.5, 0.8, 'spatial QRS peak amplitude'),
  f('p_axis_cos', 'cos', 0, 1, 'frontal P axis (cosine)'),
  f('p_axis_sin', 'sin', 0, 1, 'frontal P axis (sine; +1 = +90 degrees, inferior)'),
  f('qrs_axis_cos', 'cos', 0, 1, 'frontal QRS axis (cosine)'),
  f('qrs_axis_sin', 'sin', 0, 1, 'frontal QRS axis (sine)'),
  f('t_axis_cos', 'cos', 0, 1, 'frontal T axis (cosine)'),
  f('t_axis_sin', 'sin', 0, 1, 'frontal T axis (sine)'),
  f('qrs_t_angle_deg', 'degrees', 40, 50, 'frontal QRS-T angle'),
  f('wander_mv', 'mV', 0.1, 0.2, 'baseline wander: spread of the signal below 0.67 Hz (median over leads)'),
  f(
    'hf_noise_mv',
    'mV',
    0.02,
    0.03,
    'high-frequency noise: spread of the signal above 40 Hz (median over leads)',
  ),
  f('mains_mv', 'mV', 0.005, 0.01, 'amplitude of 50 or 60 Hz pick-up, the larger (median over leads)'),
  f('nan_fraction', 'fraction', 0, 0.1, 'invalid samples'),
  f('flat_lead_fraction', 'fraction', 0, 0.25, 'leads left out as flat or mostly invalid'),
  f('lead_agreement', 'fraction', 0.9, 0.2, 'mean share of consensus beats each usable lead detected'),
  flag('rhythm_unmeasurable', 'fewer than two complete complexes: RR measurements missing'),
  flag('p_absent', 'no P wave above noise before the QRS'),
  flag('t_absent', 'no T wave found'),
  flag('axes_unavailable', 'lead I or both II and aVF missing: axes missing'),
];

/** Per configured lead: amplitudes from the median beat, and a flag when the lead is absent or flat. */
function leadFeatures(lead: string): FeatureSpec[] {
  return [
    f(`r_amplitude_${lead}_mv`, 'mV', 0.8, 0.6, `lead ${lead}: largest QRS deflection above the PR level`),
    f(`s_amplitude_${lead}_mv`, 'mV', -0.5, 0.5, `lead ${lead}: largest QRS deflection below the PR level`),
    f(`st_level_${lead}_mv`, 'mV', 0, 0.1, `lead ${lead}: level 60 ms after the QRS end (J+60)`),
    f(`t_amplitude_${lead}_mv`, 'mV', 0.2, 0.3, `lead ${lead}: level at the spatial T peak`),
    flag(`lead_${lead}_absent`, `lead ${lead} missing, flat or mostly invalid`),
  ];
}

export function featureSpecs(leads: readonly string[]): FeatureSpec[] {
  return [...RECORD_FEATURES, ...leads.flatMap(leadFeatures)];
}

/** The fixed-length embedding: one element per spec, finite whatever the record. */
export function toEmbedding(measurements: Measurements, specs: readonly FeatureSpec[]): Float32Array {
  const out = new Float32Array(specs.length);
  specs.forEach((spec, i) => {
    const value = measurements.get(spec.name);
    if (value === undefined || !Number.isFinite(value)) return;
    out[i] = Math.max(-CLIP, Math.min(CLIP, (value - spec.center) / spec.scale));
  });
  return out;
}
