import { describe, expect, it } from 'vitest';
import {
  checksumMismatches,
  decodeWfdbRecord,
  parseWfdbHeader,
  physicalSignal,
  WfdbInputError,
} from '../src/index.ts';

function int16Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Int16Array.from(values).buffer);
}

describe('parseWfdbHeader', () => {
  it('applies WFDB defaults: gain 0 means 200, baseline follows ADC zero, units mV, fs 250', () => {
    const header = parseWfdbHeader('r 1\nr.dat 212 0 12 1024 1000\n', 'r.hea');
    expect(header.samplingFrequency).toBe(250);
    expect(header.sampleCount).toBeUndefined();
    expect(header.signals[0]).toMatchObject({
      gain: 200,
      baseline: 1024,
      adcZero: 1024,
      initialValue: 1000,
      units: 'mV',
      adcResolution: 12,
    });
    expect(header.signals[0]!.checksum).toBeUndefined();
  });

  it('reads MIMIC-IV-ECG record lines, counter frequencies, samples per frame, skew and byte offsets', () => {
    const header = parseWfdbHeader(
      [
        '45106466 2 500/1000(7) 5000 12:04:00 22/09/2182',
        '45106466.dat 16x2:3+512 200.0(0)/mV 16 0 4 14670 0 I',
        '45106466.dat 16x2:3+512 200.0(-5)/uV 16 0 -4 -50866 0 aVF lead',
        '# 10000032: subject',
      ].join('\r\n'),
      'x.hea',
    );
    expect(header).toMatchObject({
      recordName: '45106466',
      samplingFrequency: 500,
      counterFrequency: 1000,
      baseCounter: 7,
      sampleCount: 5000,
      baseTime: '12:04:00',
      baseDate: '22/09/2182',
      comments: ['10000032: subject'],
    });
    expect(header.signals[1]).toMatchObject({
      samplesPerFrame: 2,
      skew: 3,
      byteOffset: 512,
      baseline: -5,
      units: 'uV',
      checksum: -50866,
      description: 'aVF lead',
    });
  });

  it('names file, record, field and line when a field cannot be parsed', () => {
    const error = (() => {
      try {
        parseWfdbHeader('rec 1 500 10\nrec.dat 16 two/mV 16 0 0 0 0 I\n', 'dir/rec.hea');
      } catch (e) {
        return e;
      }
    })() as WfdbInputError;
    expect(error).toBeInstanceOf(WfdbInputError);
    expect(error.problem).toBe('unparsable-header');
    expect(error.message).toBe(
      'dir/rec.hea:2, record rec, field signal 0 gain: expected gain[(baseline)][/units], got "two/mV"',
    );
  });

  it('refuses a header announcing more signals than it describes, and empty headers', () => {
    expect(() => parseWfdbHeader('rec 3 500 10\nrec.dat 16\n', 'rec.hea')).toThrow(/announces 3 signals/);
    expect(() => parseWfdbHeader('# only a comment\n', 'rec.hea')).toThrow(/no record line/);
    expect(() => parseWfdbHeader('rec x 500\n', 'rec.hea')).toThrow(/number of signals/);
  });
});

describe('decodeWfdbRecord', () => {
  const header = parseWfdbHeader(
    'r 2 500 3\nr.dat 16 100(10)/mV 16 0 1 0 0 A\nr.dat 16 0/mV 16 0 2 0 0 B\n',
    'r.hea',
  );

  it('de-interleaves frames, maps the invalid marker to NaN and converts to physical units', () => {
    const record = decodeWfdbRecord(
      header,
      new Map([['r.dat', int16Bytes([110, 2, -32768, 4, 10, 6])]]),
      'r.hea',
    );
    expect(Array.from(record.digital[0]!)).toEqual([110, -32768, 10]);
    expect(Array.from(physicalSignal(record, 'A'))).toEqual([1, Number.NaN, 0]);
    expect(Array.from(physicalSignal(record, 'B'))).toEqual([0.01, 0.02, 0.03]);
  });

  it('compares checksums modulo 65536 (headers print them signed or unsigned)', () => {
    const signed = parseWfdbHeader('r 1 500 2\nr.dat 16 200 16 0 0 -2 0 A\n', 'r.hea');
    const unsigned = parseWfdbHeader('r 1 500 2\nr.dat 16 200 16 0 0 65534 0 A\n', 'r.hea');
    const wrong = parseWfdbHeader('r 1 500 2\nr.dat 16 200 16 0 0 7 0 A\n', 'r.hea');
    const bytes = new Map([['r.dat', int16Bytes([-1, -1])]]);
    expect(checksumMismatches(decodeWfdbRecord(signed, bytes, 'r.hea'))).toEqual([]);
    expect(checksumMismatches(decodeWfdbRecord(unsigned, bytes, 'r.hea'))).toEqual([]);
    expect(checksumMismatches(decodeWfdbRecord(wrong, bytes, 'r.hea'))).toEqual([
      { signal: 0, description: 'A', expected: 7, actual: 65534 },
    ]);
  });

  it('refuses a signal file shorter than the header announces', () => {
    const decode = () => decodeWfdbRecord(header, new Map([['r.dat', int16Bytes([1, 2, 3])]]), 'r.hea');
    expect(decode).toThrow(WfdbInputError);
    expect(decode).toThrow(/holds 1 frames .* announces 3/);
  });

  it('takes the sample count from the file when the header omits it', () => {
    const open = parseWfdbHeader('r 2 500\nr.dat 16 200 16 0 0 0 0 A\nr.dat 16 200 16 0 0 0 0 B\n', 'r.hea');
    const record = decodeWfdbRecord(open, new Map([['r.dat', int16Bytes([1, 2, 3, 4, 5])]]), 'r.hea');
    expect(record.sampleCount).toBe(2);
    expect(Array.from(record.digital[1]!)).toEqual([2, 4]);
  });

  it('reads several samples per frame and fills skewed samples past the end as invalid', () => {
    const framed = parseWfdbHeader('r 2 500 2\nr.dat 16x2 200 16\nr.dat 16:1 200 16\n', 'r.hea');
    const record = decodeWfdbRecord(framed, new Map([['r.dat', int16Bytes([1, 2, 3, 4, 5, 6])]]), 'r.hea');
    expect(Array.from(record.digital[0]!)).toEqual([1, 2, 4, 5]);
    expect(Array.from(record.digital[1]!)).toEqual([6, -32768]);
  });
});
