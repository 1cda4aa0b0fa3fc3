import { endianness } from 'node:os';
import { MIMIC_LEAD_ORDER } from '@enecg/common';
import { LEAD_COUNT, SAMPLES_PER_LEAD, SAMPLING_RATE } from './ecg-format.ts';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export interface WfdbRecordFiles {
  header: string;
  dat: Buffer;
}

/**
 * Encodes one record the way MIMIC-IV-ECG stores it: a format-16 .dat of interleaved little-endian
 * samples and a header whose signal lines carry each lead's first sample and its 16-bit checksum
 * (printed unsigned), followed by the `# <subject_id>:` comment.
 */
export function encodeWfdbRecord(
  recordName: string,
  subjectId: number,
  startTime: Date,
  samples: Int16Array,
): WfdbRecordFiles {
  if (samples.length !== LEAD_COUNT * SAMPLES_PER_LEAD) {
    throw new RangeError(`record ${recordName}: expected ${LEAD_COUNT * SAMPLES_PER_LEAD} samples`);
  }
  const sums = new Array<number>(LEAD_COUNT).fill(0);
  for (let i = 0; i < samples.length; i += LEAD_COUNT) {
    for (let lead = 0; lead < LEAD_COUNT; lead++) sums[lead]! += samples[i + lead]!;
  }
  const lines = [
    `${recordName} ${LEAD_COUNT} ${SAMPLING_RATE} ${SAMPLES_PER_LEAD} ${headerTimestamp(startTime)}`,
  ];
  for (let lead = 0; lead < LEAD_COUNT; lead++) {
    const checksum = ((sums[lead]! % 65536) + 65536) % 65536;
    lines.push(
      `${recordName}.dat 16 200.0(0)/mV 16 0 ${samples[lead]} ${checksum} 0 ${MIMIC_LEAD_ORDER[lead]}`,
    );
  }
  lines.push(`# <subject_id>: ${subjectId}`);
  const dat = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  return { header: `${lines.join('\n')}\n`, dat: LITTLE_ENDIAN_HOST ? dat : Buffer.from(dat).swap16() };
}

/** `HH:MM:SS DD/MM/YYYY`, the base time and date of a WFDB header. */
function headerTimestamp(time: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())} ` +
    `${two(time.getUTCDate())}/${two(time.getUTCMonth() + 1)}/${time.getUTCFullYear()}`
  );
}
