import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checksumMismatches,
  decodeWfdbRecord,
  parseWfdbHeader,
  physicalSignal,
  readWfdbRecord,
  WfdbInputError,
} from '../src/index.ts';
import {
  crc8,
  crc16,
  decodeFlac,
  decodeFlacFrames,
  FlacDecodeError,
  readFlacMetadata,
} from '../src/wfdb/flac.ts';
import { readNumberTable } from './shared-data.ts';
import {
  BitWriter,
  type Frame,
  type Residual,
  type StreamOptions,
  type Subframe,
  stereoChannels,
  writeFlacStream,
} from './wfdb-flac-writer.ts';

/** Deterministic pseudo-random integers in [min, max] (mulberry32). */
function randomInts(count: number, min: number, max: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return min + Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * (max - min + 1));
  });
}

/** A smooth waveform (two sines) plus a little noise: what fixed and LPC predictors are for. */
function smooth(count: number, amplitude: number, seed: number): number[] {
  const noise = randomInts(count, -3, 3, seed);
  return noise.map(
    (n, i) => Math.round(amplitude * (0.7 * Math.sin(i / 9 + seed) + 0.3 * Math.sin(i / 3.7))) + n,
  );
}

function decodeChannels(options: StreamOptions): number[][] {
  return decodeFlac(writeFlacStream(options)).channels.map((channel) => Array.from(channel));
}

function decodeError(bytes: Uint8Array): FlacDecodeError {
  try {
    decodeFlac(bytes);
  } catch (error) {
    if (error instanceof FlacDecodeError) return error;
    throw error;
  }
  throw new Error('the stream decoded without error');
}

const rice = (parameter: number, partitionOrder = 0): Residual => ({
  coding: 'rice',
  partitionOrder,
  parameters: Array.from({ length: 2 ** partitionOrder }, () => parameter),
});

describe('FLAC decoder on hand-built streams', () => {
  it('computes the standard CRC-8 and CRC-16 check values of "123456789"', () => {
    const digits = new TextEncoder().encode('123456789');
    expect(crc8(digits, 0, digits.length)).toBe(0xf4);
    expect(crc16(digits, 0, digits.length)).toBe(0xfee8);
  });

  it.each([8, 16, 24])(
    'decodes CONSTANT and VERBATIM subframes of %i-bit samples, extremes included',
    (bits) => {
      const max = 2 ** (bits - 1) - 1;
      const verbatim = [-max - 1, max, 0, -1, 1, ...randomInts(27, -max - 1, max, bits)];
      const channels = decodeChannels({
        bitsPerSample: bits,
        channels: 2,
        frames: [
          {
            blockSize: 32,
            subframes: [
              { type: 'constant', value: -max - 1 },
              { type: 'verbatim', samples: verbatim },
            ],
          },
        ],
        md5Of: [Array(32).fill(-max - 1), verbatim],
      });
      expect(channels).toEqual([Array(32).fill(-max - 1), verbatim]);
    },
  );

  it.each([0, 1, 2, 3, 4])('decodes a FIXED subframe of order %i', (order) => {
    const samples = smooth(96, 3000, order);
    const [decoded] = decodeChannels({
      bitsPerSample: 16,
      channels: 1,
      frames: [
        {
          blockSize: 96,
          subframes: [{ type: 'fixed', order, samples, residual: rice(order === 0 ? 12 : 5) }],
        },
      ],
      md5Of: [samples],
    });
    expect(decoded).toEqual(samples);
  });

  it('decodes LPC subframes: order 1, order 2 at 24 bits (sums beyond 32 bits), order 32 at precision 15', () => {
    const sine24 = Array.from({ length: 128 }, (_, i) => Math.round(8_000_000 * Math.sin(i / 10)));
    // x[i] = 2 cos(w) x[i-1] - x[i-2] in Q13: 16302 * 8e6 overflows 32-bit arithmetic.
    const order2: Subframe = {
      type: 'lpc',
      samples: sine24,
      precision: 15,
      shift: 13,
      coefficients: [Math.round(2 * Math.cos(0.1) * 8192), -8192],
      residual: { coding: 'rice2', parameters: [10] },
    };
    const walk = smooth(256, 900, 7);
    const order1: Subframe = {
      type: 'lpc',
      samples: walk,
      precision: 8,
      shift: 7,
      coefficients: [120],
      residual: rice(8, 2),
    };
    const coefficients32 = randomInts(32, -16384, 16383, 32).map((c, j) => (j === 0 ? 14000 : c >> 4));
    const order32: Subframe = {
      type: 'lpc',
      samples: walk,
      precision: 15,
      shift: 14,
      coefficients: coefficients32,
      residual: { coding: 'rice2', partitionOrder: 3, parameters: Array(8).fill(12) },
    };
    expect(
      decodeChannels({
        bitsPerSample: 24,
        channels: 1,
        frames: [{ blockSize: 128, subframes: [order2] }],
        md5Of: [sine24],
      }),
    ).toEqual([sine24]);
    expect(
      decodeChannels({
        bitsPerSample: 16,
        channels: 2,
        frames: [{ blockSize: 256, subframes: [order1, order32] }],
        md5Of: [walk, walk],
      }),
    ).toEqual([walk, walk]);
  });

  it('restores wasted bits on CONSTANT, VERBATIM, FIXED and LPC subframes', () => {
    const times8 = smooth(64, 400, 3).map((v) => v * 8);
    const times2 = randomInts(64, -16000, 16000, 4).map((v) => v * 2);
    const subframes: Subframe[] = [
      { type: 'constant', value: -1024, wastedBits: 10 },
      { type: 'verbatim', samples: times2, wastedBits: 1 },
      { type: 'fixed', order: 2, samples: times8, residual: rice(3), wastedBits: 3 },
      {
        type: 'lpc',
        samples: times8,
        precision: 10,
        shift: 8,
        coefficients: [400, -150],
        residual: rice(4, 1),
        wastedBits: 3,
      },
    ];
    const expected = [Array(64).fill(-1024), times2, times8, times8];
    expect(
      decodeChannels({
        bitsPerSample: 16,
        channels: 4,
        frames: [{ blockSize: 64, subframes }],
        md5Of: expected,
      }),
    ).toEqual(expected);
  });

  it('decodes Rice partitions of orders 0-4 (the first shortened by the predictor order) and parameters 0-14', () => {
    const samples = smooth(64, 2000, 11);
    const frames: Frame[] = [0, 1, 2, 3, 4].map((partitionOrder) => ({
      blockSize: 64,
      subframes: [
        {
          type: 'fixed',
          order: 3,
          samples,
          residual: {
            coding: 'rice',
            partitionOrder,
            parameters: Array.from({ length: 2 ** partitionOrder }, (_, p) => [4, 14, 6, 9][p % 4]!),
          },
        },
      ],
    }));
    const exactLine = Array.from({ length: 64 }, (_, i) => 5 * i - 100);
    frames.push({
      blockSize: 64,
      subframes: [{ type: 'fixed', order: 2, samples: exactLine, residual: rice(0, 2) }],
    });
    const expected = [...Array(5).fill(samples), exactLine].flat();
    expect(decodeChannels({ bitsPerSample: 16, channels: 1, frames, md5Of: [expected] })).toEqual([expected]);
  });

  it('decodes Rice2 parameters above 14 and escaped partitions of raw widths 0, 5 and 24', () => {
    const noisy24 = randomInts(64, -8_000_000, 8_000_000, 24);
    const exactLine = Array.from({ length: 64 }, (_, i) => 3 * i);
    const mixed = [
      ...Array(15).fill(7),
      ...randomInts(16, 0, 14, 5),
      ...randomInts(32, -3_000_000, 3_000_000, 6),
    ];
    const frames: Frame[] = [
      {
        blockSize: 64,
        subframes: [
          { type: 'fixed', order: 0, samples: noisy24, residual: { coding: 'rice2', parameters: [22] } },
        ],
      },
      // Residual of an exact line under order 2 is all zero: escape with width 0.
      {
        blockSize: 64,
        subframes: [
          {
            type: 'fixed',
            order: 2,
            samples: exactLine,
            residual: { coding: 'rice', parameters: [{ escapeBits: 0 }] },
          },
        ],
      },
      {
        blockSize: 64,
        subframes: [
          {
            type: 'fixed',
            order: 1,
            samples: [7, ...mixed],
            residual: {
              coding: 'rice2',
              partitionOrder: 2,
              parameters: [{ escapeBits: 0 }, { escapeBits: 5 }, 21, { escapeBits: 24 }],
            },
          },
        ],
      },
    ];
    const expected = [...noisy24, ...exactLine, 7, ...mixed];
    expect(decodeChannels({ bitsPerSample: 24, channels: 1, frames, md5Of: [expected] })).toEqual([expected]);
  });

  it.each([
    ['left/side', 8],
    ['side/right', 9],
    ['mid/side', 10],
  ] as const)('undoes %s stereo, 25-bit sides and odd sums included', (_, mode) => {
    const left = [8388607, -8388608, 8388607, -8388608, 1, 0, ...randomInts(58, -8388608, 8388607, mode)];
    const right = [
      -8388608,
      8388607,
      8388607,
      -8388608,
      0,
      1,
      ...randomInts(58, -8388608, 8388607, mode + 100),
    ];
    const [first, second] = stereoChannels(mode, left, right);
    const channels = decodeChannels({
      bitsPerSample: 24,
      channels: 2,
      frames: [
        {
          blockSize: 64,
          channelAssignment: mode,
          subframes: [
            { type: 'verbatim', samples: first },
            { type: 'verbatim', samples: second },
          ],
        },
        {
          blockSize: 16,
          channelAssignment: mode,
          subframes: stereoChannels(mode, Array(16).fill(-5), Array(16).fill(6)).map(
            (values): Subframe => ({ type: 'constant', value: values[0]! }),
          ),
        },
      ],
      md5Of: [
        [...left, ...Array(16).fill(-5)],
        [...right, ...Array(16).fill(6)],
      ],
    });
    expect(channels).toEqual([
      [...left, ...Array(16).fill(-5)],
      [...right, ...Array(16).fill(6)],
    ]);
  });

  it('decodes 8 independent channels', () => {
    const expected = Array.from({ length: 8 }, (_, c) => smooth(48, 100 * (c + 1), c));
    const subframes = expected.map(
      (samples, c): Subframe =>
        c % 2 === 0 ? { type: 'verbatim', samples } : { type: 'fixed', order: 2, samples, residual: rice(4) },
    );
    expect(
      decodeChannels({
        bitsPerSample: 16,
        channels: 8,
        frames: [{ blockSize: 48, subframes }],
        md5Of: expected,
      }),
    ).toEqual(expected);
  });

  it('reads every block size and sample rate code, and frame numbers coded in 1 and 2 bytes', () => {
    const sizes: [number, number | undefined][] = [
      [192, 1],
      [576, 2],
      [1152, 3],
      [2304, 4],
      [4608, 5],
      [100, 6],
      [300, 7],
      ...[8, 9, 10, 11, 12, 13, 14, 15].map((code): [number, number] => [256 << (code - 8), code]),
    ];
    const rates = [
      { code: 0 },
      { code: 9 },
      { code: 12, tail: [96] },
      { code: 13, tail: [0x17, 0x70] },
      { code: 14, tail: [0x02, 0x58] },
    ];
    const frames: Frame[] = sizes.map(([blockSize, blockSizeCode], k) => ({
      blockSize,
      blockSizeCode,
      sampleRate: rates[k % rates.length]!,
      bitsCode: k % 2 === 0 ? 0 : 4,
      subframes: [{ type: 'constant', value: k }],
    }));
    // 140 more frames: frame numbers from 128 on take two bytes.
    for (let k = 0; k < 140; k++)
      frames.push({ blockSize: 16, blockSizeCode: 6, subframes: [{ type: 'constant', value: -1 - k }] });
    const expected = frames.flatMap((frame) =>
      Array(frame.blockSize).fill((frame.subframes[0] as { value: number }).value),
    );
    const stream = decodeFlac(
      writeFlacStream({ bitsPerSample: 16, channels: 1, frames, maxBlockSize: 65535 }),
    );
    expect(stream.sampleCount).toBe(expected.length);
    expect(Array.from(stream.channels[0]!)).toEqual(expected);
  });

  it('reads variable block sizes, whose frames carry sample numbers of up to 4 coded bytes', () => {
    const frames: Frame[] = Array.from({ length: 20 }, (_, k) => ({
      blockSize: k % 3 === 0 ? 4608 : 4000 + k,
      subframes: [{ type: 'constant', value: k }],
    }));
    const stream = decodeFlac(
      writeFlacStream({ bitsPerSample: 8, channels: 1, frames, variable: true, maxBlockSize: 4608 }),
    );
    const expected = frames.flatMap((frame, k) => Array(frame.blockSize).fill(k));
    expect(stream.sampleCount).toBe(expected.length);
    expect(stream.sampleCount).toBeGreaterThan(2 ** 16);
    expect(Array.from(stream.channels[0]!)).toEqual(expected);
  });

  it('skips SEEKTABLE, VORBIS_COMMENT, APPLICATION and PADDING blocks; reads STREAMINFO', () => {
    const samples = randomInts(40, -100, 100, 9);
    const bytes = writeFlacStream({
      bitsPerSample: 12,
      channels: 1,
      frames: [{ blockSize: 40, subframes: [{ type: 'verbatim', samples }] }],
      metadata: [
        { type: 3, body: new Uint8Array(18) },
        { type: 4, body: new TextEncoder().encode('\u0004\u0000\u0000\u0000wfdb\u0000\u0000\u0000\u0000') },
        { type: 2, body: new TextEncoder().encode('test') },
        { type: 1, body: new Uint8Array(100) },
      ],
      md5Of: [samples],
    });
    const stream = decodeFlac(bytes);
    expect(stream.streamInfo).toMatchObject({
      channels: 1,
      bitsPerSample: 12,
      sampleRate: 96000,
      totalSamples: 40,
    });
    expect(stream.streamInfo.md5).toMatch(/^[0-9a-f]{32}$/);
    expect(Array.from(stream.channels[0]!)).toEqual(samples);
    expect(readFlacMetadata(bytes).framesOffset).toBe(
      4 + (4 + 34) + (4 + 18) + (4 + 12) + (4 + 4) + (4 + 100),
    );
  });
});

describe('FLAC decoder refuses broken streams', () => {
  const samples = randomInts(64, -30000, 30000, 1);
  const threeFrames: StreamOptions = {
    bitsPerSample: 16,
    channels: 1,
    frames: [0, 1, 2].map((k) => ({
      blockSize: 64,
      subframes: [{ type: 'verbatim', samples: samples.map((v) => v - k) }],
    })),
  };
  const good = writeFlacStream(threeFrames);
  const framesOffset = readFlacMetadata(good).framesOffset;
  const frameLength = (good.length - framesOffset) / 3;

  const flipped = (index: number) => {
    const copy = good.slice();
    copy[index]! ^= 0x10;
    return copy;
  };

  it('a flipped bit in a frame header fails CRC-8; one in the samples or the CRC fails CRC-16', () => {
    expect(decodeError(flipped(framesOffset + frameLength + 2))).toMatchObject({
      problem: 'corrupt',
      byteOffset: framesOffset + frameLength,
    });
    expect(decodeError(flipped(framesOffset + frameLength + 2)).message).toMatch(/CRC-8 mismatch/);
    expect(decodeError(flipped(framesOffset + 40)).message).toMatch(/frame 0 fails its CRC-16/);
    expect(decodeError(flipped(good.length - 1)).message).toMatch(/frame 2 fails its CRC-16/);
  });

  it('a stream cut anywhere is truncated; a missing frame, a wrong MD5 or a foreign file is corrupt', () => {
    for (const end of [
      3,
      20,
      framesOffset + 5,
      framesOffset + 100,
      good.length - 1,
      framesOffset + frameLength,
    ]) {
      expect(decodeError(good.subarray(0, end)).problem, `cut at ${end}`).toBe(
        end === 3 ? 'corrupt' : 'truncated',
      );
    }
    const withoutSecond = Buffer.concat([
      good.subarray(0, framesOffset + frameLength),
      good.subarray(framesOffset + 2 * frameLength),
    ]);
    expect(decodeError(withoutSecond).message).toMatch(/frame 1 is numbered 2, expected 1/);
    const mixedStrategies = Buffer.concat([
      good.subarray(0, framesOffset + frameLength),
      writeFlacStream({ ...threeFrames, variable: true }).subarray(framesOffset + frameLength),
    ]);
    expect(decodeError(mixedStrategies).message).toMatch(/frame 1 changes the blocking strategy/);
    const wrongMd5 = writeFlacStream({ ...threeFrames, md5Of: [samples] });
    expect(decodeError(wrongMd5).message).toMatch(/MD5/);
    expect(decodeError(new TextEncoder().encode('RIFF....WAVEfmt ')).message).toMatch(
      /does not start with "fLaC"/,
    );
  });

  it('stops at the frame boundary past the samples the caller needs, and refuses frames past STREAMINFO', () => {
    const metadata = readFlacMetadata(good);
    const firstTwo = decodeFlacFrames(good, metadata, 65);
    expect(firstTwo.sampleCount).toBe(128);
    expect(Array.from(firstTwo.channels[0]!)).toEqual([...samples, ...samples.map((v) => v - 1)]);
    // Cut after two frames, the stream is still usable up to the limit: the third frame is never read.
    expect(
      decodeFlacFrames(good.subarray(0, framesOffset + 2 * frameLength), metadata, 128).sampleCount,
    ).toBe(128);
    const overlong = writeFlacStream({ ...threeFrames, totalSamples: 100 });
    expect(decodeError(overlong).message).toMatch(/frame 1 runs past the 100 samples STREAMINFO announces/);
  });

  it.each<[string, Frame, RegExp, number?]>([
    [
      'a reserved subframe type',
      { blockSize: 16, subframes: [{ type: 'raw', write: (w) => w.write(0b0000100, 8) }] },
      /reserved subframe type 2/,
    ],
    [
      'a set subframe padding bit',
      { blockSize: 16, subframes: [{ type: 'raw', write: (w) => w.write(0x80, 8) }] },
      /padding bit/,
    ],
    [
      'a reserved residual coding',
      {
        blockSize: 16,
        subframes: [
          { type: 'fixed', order: 1, samples: Array(16).fill(1), residual: { coding: 'reserved' } },
        ],
      },
      /reserved coding method 2/,
    ],
    [
      'LPC precision code 15',
      {
        blockSize: 16,
        subframes: [
          {
            type: 'lpc',
            samples: Array(16).fill(1),
            precision: 16,
            shift: 0,
            coefficients: [1],
            residual: rice(1),
          },
        ],
      },
      /coefficient precision/,
    ],
    [
      'a negative LPC shift',
      {
        blockSize: 16,
        subframes: [
          {
            type: 'lpc',
            samples: Array(16).fill(1),
            precision: 4,
            shift: -2,
            coefficients: [1],
            residual: rice(1),
          },
        ],
      },
      /negative prediction shift/,
    ],
    [
      'a partition order the block size does not divide',
      {
        blockSize: 24,
        subframes: [{ type: 'fixed', order: 0, samples: Array(24).fill(1), residual: rice(1, 4) }],
      },
      /partition order 4/,
    ],
    [
      'a predictor order beyond the block size',
      {
        blockSize: 2,
        blockSizeCode: 6,
        subframes: [{ type: 'fixed', order: 3, samples: [1, 2], residual: rice(1) }],
      },
      /order 3 exceeds block size 2/,
    ],
    [
      'reserved channel assignment 11',
      { blockSize: 16, channelAssignment: 11, subframes: [{ type: 'constant', value: 0 }] },
      /reserved channel assignment 11/,
    ],
    [
      '2 channels in a mono stream',
      { blockSize: 16, channelAssignment: 8, subframes: [{ type: 'constant', value: 0 }] },
      /2 channels, STREAMINFO announces 1/,
    ],
    [
      'reserved sample size code 3',
      { blockSize: 16, bitsCode: 3, subframes: [{ type: 'constant', value: 0 }] },
      /reserved sample size code 3/,
    ],
    [
      '24-bit frames in a 16-bit stream',
      { blockSize: 16, bitsCode: 6, subframes: [{ type: 'constant', value: 0 }] },
      /24 bits per sample/,
    ],
    [
      'reserved block size code 0',
      { blockSize: 16, blockSizeCode: 0, subframes: [{ type: 'constant', value: 0 }] },
      /reserved block size code 0/,
    ],
    [
      'invalid sample rate code 15',
      { blockSize: 16, sampleRate: { code: 15 }, subframes: [{ type: 'constant', value: 0 }] },
      /invalid sample rate code 15/,
    ],
    [
      'a block larger than STREAMINFO allows',
      { blockSize: 4096, subframes: [{ type: 'constant', value: 0 }] },
      /exceeds STREAMINFO's maximum 16/,
      16,
    ],
  ])('refuses %s', (_, frame, message, maxBlockSize) => {
    const bytes = writeFlacStream({
      bitsPerSample: 16,
      channels: 1,
      frames: [frame],
      ...(maxBlockSize ? { maxBlockSize } : {}),
    });
    const error = decodeError(bytes);
    expect(error.problem).toBe('corrupt');
    expect(error.message).toMatch(message);
  });

  it('a writer-side check: the hand-built bit writer packs MSB first', () => {
    expect(
      Array.from(new BitWriter().write(0b101, 3).write(-1, 5).write(1, 1).alignToByte().toBytes()),
    ).toEqual([0b10111111, 0b10000000]);
  });
});

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/flac');
const fixture = (name: string) => join(fixtures, name);

describe('WFDB FLAC records (fixtures written by libFLAC, see tools/make-flac-fixtures.py)', () => {
  it.each([
    ['flac12lead', '12 leads in two format 516 files of 8 and 4 channels, written by wfdb-python'],
    ['flacstereo', 'format 516, independent, left/side, right/side and mid/side frames of 256'],
    [
      'flacfixed',
      'format 508, 2 samples per frame, a 10-sample offset, skew 3, fixed predictors, wasted bits',
    ],
    ['flaclpc', 'format 524, LPC up to order 18, Rice2 residuals, blocks of 1000'],
  ])('%s (%s) decodes to the samples the encoder was given', async (name) => {
    const record = await readWfdbRecord(fixture(name));
    const expected = await readNumberTable(fixture(`${name}.signals.gz`));
    expect(record.digital).toHaveLength(expected.length);
    record.digital.forEach((signal, index) => {
      expect(Array.from(signal), `signal ${index}`).toEqual(expected[index]);
    });
    expect(checksumMismatches(record)).toEqual([]);
  });

  it("maps each format's invalid marker to NaN: -32768 in format 516, -128 in format 508", async () => {
    const twelve = await readWfdbRecord(fixture('flac12lead'));
    const v5 = physicalSignal(twelve, 'V5');
    expect(v5.subarray(700, 760).every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(v5[699]!) || Number.isNaN(v5[760]!)).toBe(false);
    const fixed = await readWfdbRecord(fixture('flacfixed'));
    // Signal 0's run of -128 lies at channel samples 150-169, i.e. record samples 140-159 after the offset of 10.
    const smoothLead = physicalSignal(fixed, 0);
    expect(Array.from(smoothLead.subarray(140, 160), Number.isNaN)).toEqual(Array(20).fill(true));
    expect(Number.isNaN(smoothLead[139]!)).toBe(false);
  });

  it('marks skewed samples past the end of the FLAC stream missing, as for the other formats', async () => {
    const headerFile = fixture('flacfixed.hea');
    // Skew 5 instead of 3: the stream holds 1503 frames, the last two of the 1500 the header wants are missing.
    const text = (await readFile(headerFile, 'latin1')).replace('508x2:3+10', '508x2:5+10');
    const header = parseWfdbHeader(text, headerFile);
    const bytes = new Uint8Array(await readFile(fixture('flacfixed.dat')));
    const record = decodeWfdbRecord(header, new Map([['flacfixed.dat', bytes]]), headerFile);
    const expected = (await readNumberTable(fixture('flacfixed.signals.gz')))[2]!;
    const quads = Array.from(record.digital[2]!);
    expect(quads.slice(0, -4)).toEqual(expected.slice(4));
    expect(quads.slice(-4)).toEqual([-128, -128, -128, -128]);
    expect(Array.from(physicalSignal(record, 2).subarray(-4), Number.isNaN)).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });
});

describe('WFDB FLAC records refused with a reason', () => {
  async function load(name: string, headerText?: string) {
    const headerFile = fixture(`${name}.hea`);
    const header = parseWfdbHeader(headerText ?? (await readFile(headerFile, 'latin1')), headerFile);
    const files = new Map<string, Uint8Array>();
    for (const fileName of new Set(header.signals.map((s) => s.fileName))) {
      files.set(fileName, new Uint8Array(await readFile(fixture(fileName))));
    }
    return { header, files, headerFile };
  }

  function refusal(run: () => unknown): WfdbInputError {
    try {
      run();
    } catch (error) {
      if (error instanceof WfdbInputError) return error;
      throw error;
    }
    throw new Error('the record decoded without error');
  }

  it('refuses every single-bit flip in the frames of a FLAC file (CRCs), naming header, record and signal file', async () => {
    const { header, files, headerFile } = await load('flacfixed');
    const bytes = files.get('flacfixed.dat')!;
    const { framesOffset } = readFlacMetadata(bytes);
    const problems = new Set<string>();
    for (let index = framesOffset; index < bytes.length; index++) {
      const copy = bytes.slice();
      copy[index]! ^= 1 << (index % 8);
      const error = refusal(() => decodeWfdbRecord(header, new Map([['flacfixed.dat', copy]]), headerFile));
      problems.add(error.problem);
      expect(error.location).toMatchObject({ file: headerFile, record: 'flacfixed', field: 'signal file' });
      expect(error.message).toContain('flacfixed.dat');
    }
    // A flip in the last frame can make it read past the end of the file, which looks like a cut file.
    expect([...problems].sort()).toEqual(['corrupt-signal-file', 'short-signal-file']);
  });

  it('refuses a flipped MD5 as corrupt and a truncated file as short', async () => {
    const { header, files, headerFile } = await load('flacstereo');
    const bytes = files.get('flacstereo.dat')!;
    const badMd5 = bytes.slice();
    badMd5[8 + 18 + 5]! ^= 0xff;
    const corrupt = refusal(() =>
      decodeWfdbRecord(header, new Map([['flacstereo.dat', badMd5]]), headerFile),
    );
    expect(corrupt.problem).toBe('corrupt-signal-file');
    expect(corrupt.message).toMatch(/flacstereo\.dat.*MD5/);
    for (const end of [bytes.length - 1, Math.floor(bytes.length / 2), 30]) {
      const short = refusal(() =>
        decodeWfdbRecord(header, new Map([['flacstereo.dat', bytes.subarray(0, end)]]), headerFile),
      );
      expect(short.problem, `cut at ${end}`).toBe('short-signal-file');
      expect(short.message).toContain('flacstereo.dat');
    }
  });

  it('refuses a header that disagrees with the FLAC stream, and a FLAC layout WFDB forbids', async () => {
    const text = await readFile(fixture('flacstereo.hea'), 'latin1');
    const [recordLine, left, right] = text.split('\n');
    const third = `${left!.replace(' left', ' third')}`;
    const threeSignals = await load(
      'flacstereo',
      [recordLine!.replace(' 2 ', ' 3 '), left, right, third].join('\n'),
    );
    expect(
      refusal(() => decodeWfdbRecord(threeSignals.header, threeSignals.files, threeSignals.headerFile)),
    ).toMatchObject({
      problem: 'corrupt-signal-file',
      reason: 'FLAC file flacstereo.dat has 2 channels, the header stores 3 signals in it',
    });
    const as508 = await load('flacstereo', text.replaceAll(' 516 ', ' 508 '));
    expect(refusal(() => decodeWfdbRecord(as508.header, as508.files, as508.headerFile)).reason).toBe(
      'FLAC file flacstereo.dat holds 16-bit samples, format 508 at most 8-bit ones',
    );
    const mixedRates = await load(
      'flacstereo',
      text.replace(' 516 1000(0)/mV 16 0 2460', ' 516x2 1000(0)/mV 16 0 2460'),
    );
    expect(
      refusal(() => decodeWfdbRecord(mixedRates.header, mixedRates.files, mixedRates.headerFile)),
    ).toMatchObject({
      problem: 'unparsable-header',
      location: { field: 'signal 1 samples per frame' },
    });
    const nine = await load(
      'flacstereo',
      [recordLine!.replace(' 2 ', ' 9 '), ...Array(9).fill(left)].join('\n'),
    );
    expect(refusal(() => decodeWfdbRecord(nine.header, nine.files, nine.headerFile)).reason).toMatch(
      /9 signals share FLAC file flacstereo\.dat, which holds at most 8/,
    );
    // A wider format than the stream's samples is allowed, as in WFDB.
    const as524 = await load('flacstereo', text.replaceAll(' 516 ', ' 524 '));
    const record = decodeWfdbRecord(as524.header, as524.files, as524.headerFile);
    expect(record.digital[1]![0]).toBe(2460);
  });
});
