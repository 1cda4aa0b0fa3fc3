import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Format16Record {
  samplingRate: number;
  leadNames: readonly string[];
  /** Digital samples per lead, all of one length. */
  signals: readonly Int16Array[];
  gain?: number;
  baseline?: number;
  units?: string;
}

/**
 * Writes a format-16 WFDB record (`name.hea` + `name.dat`) the way MIMIC-IV-ECG stores them, for
 * tests that need records the shared data does not have (flat leads, changed content).
 */
export async function writeFormat16Record(
  folder: string,
  name: string,
  record: Format16Record,
): Promise<void> {
  const length = record.signals[0]!.length;
  const leads = record.signals.length;
  const frames = new Int16Array(length * leads);
  for (let lead = 0; lead < leads; lead++) {
    const signal = record.signals[lead]!;
    for (let i = 0; i < length; i++) frames[i * leads + lead] = signal[i]!;
  }
  const gain = record.gain ?? 200;
  const baseline = record.baseline ?? 0;
  const units = record.units ?? 'mV';
  const lines = [`${name} ${leads} ${record.samplingRate} ${length} 08:44:00 23/07/2180`];
  record.signals.forEach((signal, lead) => {
    const checksum = signal.reduce((sum, v) => (sum + v) | 0, 0) & 0xffff;
    lines.push(
      `${name}.dat 16 ${gain}(${baseline})/${units} 16 0 ${signal[0]} ${checksum} 0 ${record.leadNames[lead]}`,
    );
  });
  lines.push('# written by the ingest tests');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, `${name}.dat`), new Uint8Array(frames.buffer));
  await writeFile(join(folder, `${name}.hea`), `${lines.join('\n')}\n`);
}
