import { describe, expect, it } from 'vitest';
import { decodeWfdbRecord, parseWfdbHeader } from '../src/wfdb/index.ts';

/** A format 16 record held in memory: its header text and signal file bytes, frames interleaved. */
function format16Record(signals: Int16Array[], byteOffset: number) {
  const length = signals[0]!.length;
  const frames = new Int16Array(length * signals.length);
  signals.forEach((signal, s) => {
    for (let i = 0; i < length; i++) frames[i * signals.length + s] = signal[i]!;
  });
  const bytes = new Uint8Array(byteOffset + frames.byteLength);
  bytes.set(new Uint8Array(frames.buffer), byteOffset);
  const lines = [`r ${signals.length} 500 ${length}`];
  for (let s = 0; s < signals.length; s++) lines.push(`r.dat 16+${byteOffset} 200/mV 16 0 0 0 0 s${s}`);
  return { header: parseWfdbHeader(`${lines.join('\n')}\n`, 'r.hea'), files: new Map([['r.dat', bytes]]) };
}

describe('format 16 de-interleave kernel', () => {
  // Odd signal counts, lengths off the kernel's 8-sample vectors, int16 extremes, invalid markers,
  // and a signal file whose frames start at an odd byte.
  it.each([
    [12, 5000, 0],
    [3, 1003, 0],
    [1, 7, 1],
    [5, 0, 0],
    [2, 9, 3],
  ])(
    '%i signals of %i samples at byte offset %i: samples, sums and invalid counts',
    (count, length, offset) => {
      let state = count * 7919 + length;
      const next = () => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state;
      };
      const signals = Array.from({ length: count }, () =>
        Int16Array.from({ length }, (_, i) =>
          i % 13 === 5 ? -32768 : i % 17 === 3 ? 32767 : ((next() >>> 8) % 65536) - 32768,
        ),
      );
      const { header, files } = format16Record(signals, offset);
      const record = decodeWfdbRecord(header, files, 'r.hea');
      expect(record.digital.map((d) => Array.from(d))).toEqual(signals.map((s) => Array.from(s)));
      expect(record.summaries).toEqual(
        signals.map((s) => ({
          checksum: s.reduce((sum, v) => (sum + v) | 0, 0) & 0xffff,
          invalid: s.filter((v) => v === -32768).length,
        })),
      );
    },
  );
});
