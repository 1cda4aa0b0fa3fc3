import { basename, dirname } from 'node:path';
import type { EcgRecord } from '@enecg/common';
import { physicalSignal, readWfdbRecord } from '@enecg/ingest';

const TO_MILLIVOLTS: Record<string, number> = { mv: 1, uv: 1e-3, v: 1e3 };

/**
 * One WFDB record as an EcgRecord. MIMIC-IV-ECG names a record by its study id and keeps it under
 * `.../p<subject>/s<study>/`; ids that cannot be read from the names are 0.
 */
export async function readEcgRecord(headerPath: string): Promise<EcgRecord> {
  const record = await readWfdbRecord(headerPath);
  const studyId = Number(/^\d+$/.test(record.header.recordName) ? record.header.recordName : 0);
  const subjectFolder = basename(dirname(dirname(headerPath)));
  const subjectId = /^p\d+$/.test(subjectFolder) ? Number(subjectFolder.slice(1)) : 0;
  return {
    studyId,
    subjectId,
    samplingRate: record.header.samplingFrequency,
    leadNames: record.header.signals.map((signal) => signal.description),
    signals: record.header.signals.map((signal, index) => {
      const scale = TO_MILLIVOLTS[signal.units.toLowerCase()] ?? 1;
      return Float32Array.from(physicalSignal(record, index), (value) => value * scale);
    }),
  };
}
