import type { EcgRecord } from '@enecg/common';
import { MIMIC_LEAD_ORDER, mulberry32 } from '@enecg/common';

/**
 * ECG-like 12-lead, 10 s, 500 Hz records built in memory: a beat train whose rate varies per record
 * (so spectra, and TimesNet's periods, differ between records) plus baseline wander and noise.
 */
export function syntheticRecords(count: number, seed: number, firstStudyId = 40000000): EcgRecord[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, r) => {
    const heartRate = 50 + 70 * random();
    const beat = 500 / (heartRate / 60);
    const signals = MIMIC_LEAD_ORDER.map((_, lead) => {
      const gain = 0.3 + random();
      return Float32Array.from({ length: 5000 }, (_, i) => {
        const phase = (i % beat) / beat;
        const qrs = Math.exp(-(((phase - 0.3) / 0.02) ** 2));
        const t = 0.3 * Math.exp(-(((phase - 0.6) / 0.06) ** 2));
        return (
          gain * (qrs + t) + 0.1 * Math.sin((2 * Math.PI * i) / (2000 + 300 * lead)) + 0.02 * (random() - 0.5)
        );
      });
    });
    return {
      studyId: firstStudyId + r,
      subjectId: 10000000 + r,
      samplingRate: 500,
      leadNames: [...MIMIC_LEAD_ORDER],
      signals,
    };
  });
}
