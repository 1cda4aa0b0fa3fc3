import { createHash } from 'node:crypto';
import { WfdbInputError, type WfdbProblem } from './errors.ts';
import type { FlacFormat, WfdbSignalSpec } from './header.ts';

/**
 * A FLAC decoder (RFC 9639) for WFDB's compressed storage formats 508, 516 and 524: STREAMINFO and
 * skipped metadata blocks, frame headers checked by CRC-8, frames checked by CRC-16, CONSTANT,
 * VERBATIM, FIXED and LPC subframes with wasted bits, Rice and Rice2 residuals with escaped
 * partitions, stereo decorrelation, and the stream's MD5 signature when it has one.
 */

/** Why a FLAC stream could not be decoded: it ends early, its bytes are wrong, or it uses what WFDB never writes. */
export type FlacProblem = 'truncated' | 'corrupt' | 'unsupported';

export class FlacDecodeError extends Error {
  constructor(
    readonly problem: FlacProblem,
    readonly detail: string,
    /** Byte of the stream where the problem was found (the start of the frame for frame-level checks). */
    readonly byteOffset: number,
  ) {
    super(`${detail} (byte ${byteOffset})`);
    this.name = 'FlacDecodeError';
  }
}

export interface FlacStreamInfo {
  minBlockSize: number;
  maxBlockSize: number;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Samples per channel the encoder announced; undefined when it did not know. */
  totalSamples?: number;
  /** MD5 of the decoded samples as hex; undefined when the encoder left it zero. */
  md5?: string;
}

export interface FlacStream {
  streamInfo: FlacStreamInfo;
  /** Samples per channel. */
  sampleCount: number;
  /** One array of `sampleCount` samples per channel, in stream order. */
  channels: Int32Array[];
}

/** A 36-bit all-ones total: encoders that cannot seek back announce this instead of the length. */
const UNKNOWN_TOTAL = 2 ** 36 - 1;
/** Read-ahead of the bit reader: it loads 4 bytes from any position before the end. */
const PADDING = 8;

/** Decodes a whole FLAC stream (metadata, then every frame) into one sample array per channel. */
export function decodeFlac(bytes: Uint8Array): FlacStream {
  const metadata = readFlacMetadata(bytes);
  return decodeFlacFrames(bytes, metadata);
}

export interface FlacMetadata {
  streamInfo: FlacStreamInfo;
  /** Byte where the first frame starts. */
  framesOffset: number;
}

/** Reads the `fLaC` marker and the metadata blocks: STREAMINFO is kept, the others are skipped. */
export function readFlacMetadata(bytes: Uint8Array): FlacMetadata {
  if (bytes.length < 4 || bytes[0] !== 0x66 || bytes[1] !== 0x4c || bytes[2] !== 0x61 || bytes[3] !== 0x43) {
    throw new FlacDecodeError('corrupt', 'not a FLAC stream: it does not start with "fLaC"', 0);
  }
  let offset = 4;
  let streamInfo: FlacStreamInfo | undefined;
  for (let last = false; !last; ) {
    if (offset + 4 > bytes.length) {
      throw new FlacDecodeError('truncated', 'the stream ends inside its metadata', offset);
    }
    last = (bytes[offset]! & 0x80) !== 0;
    const type = bytes[offset]! & 0x7f;
    const length = (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const body = offset + 4;
    if (body + length > bytes.length) {
      throw new FlacDecodeError('truncated', `metadata block of type ${type} ends past the stream`, offset);
    }
    if (type === 0) {
      if (streamInfo !== undefined) throw new FlacDecodeError('corrupt', 'a second STREAMINFO block', offset);
      streamInfo = parseStreamInfo(bytes.subarray(body, body + length), offset);
    } else if (streamInfo === undefined) {
      throw new FlacDecodeError('corrupt', 'the first metadata block is not STREAMINFO', offset);
    } else if (type === 127) {
      throw new FlacDecodeError('corrupt', 'metadata block type 127 is forbidden', offset);
    }
    offset = body + length;
  }
  return { streamInfo: streamInfo!, framesOffset: offset };
}

function parseStreamInfo(block: Uint8Array, offset: number): FlacStreamInfo {
  if (block.length < 34) {
    throw new FlacDecodeError('corrupt', `STREAMINFO holds ${block.length} bytes, not 34`, offset);
  }
  const minBlockSize = (block[0]! << 8) | block[1]!;
  const maxBlockSize = (block[2]! << 8) | block[3]!;
  // Bytes 4-9 are the minimum and maximum frame sizes, which a full decode does not need.
  const sampleRate = (block[10]! << 12) | (block[11]! << 4) | (block[12]! >> 4);
  const channels = ((block[12]! >> 1) & 0x07) + 1;
  const bitsPerSample = (((block[12]! & 0x01) << 4) | (block[13]! >> 4)) + 1;
  const totalSamples =
    (block[13]! & 0x0f) * 2 ** 32 +
    (((block[14]! << 24) | (block[15]! << 16) | (block[16]! << 8) | block[17]!) >>> 0);
  const md5 = Buffer.from(block.subarray(18, 34)).toString('hex');
  if (bitsPerSample < 4) {
    throw new FlacDecodeError('corrupt', `STREAMINFO announces ${bitsPerSample} bits per sample`, offset);
  }
  if (maxBlockSize < minBlockSize || maxBlockSize < 16) {
    throw new FlacDecodeError(
      'corrupt',
      `STREAMINFO block sizes ${minBlockSize}-${maxBlockSize} are invalid`,
      offset,
    );
  }
  return {
    minBlockSize,
    maxBlockSize,
    sampleRate,
    channels,
    bitsPerSample,
    ...(totalSamples === 0 || totalSamples === UNKNOWN_TOTAL ? {} : { totalSamples }),
    ...(/^0+$/.test(md5) ? {} : { md5 }),
  };
}

/**
 * Decodes the frames that follow the metadata; every frame must agree with STREAMINFO. Decoding stops
 * at the first frame boundary at or past `sampleLimit` samples per channel (what the caller needs), so
 * a tiny file of constant frames cannot expand without bound; the MD5 is checked only on a whole stream.
 */
export function decodeFlacFrames(
  bytes: Uint8Array,
  { streamInfo, framesOffset }: FlacMetadata,
  sampleLimit = Number.POSITIVE_INFINITY,
): FlacStream {
  const padded = new Uint8Array(bytes.length + PADDING);
  padded.set(bytes);
  const reader = new BitReader(padded, bytes.length * 8);
  const { channels: channelCount } = streamInfo;
  // Grown by doubling; start from the announced length when it is plausible for the file's size.
  let capacity = Math.max(
    streamInfo.maxBlockSize,
    Math.min(streamInfo.totalSamples ?? 0, bytes.length * 8, sampleLimit),
  );
  let channels = Array.from({ length: channelCount }, () => new Int32Array(capacity));
  let sampleCount = 0;
  const frame: FrameHeader = {
    start: 0,
    dataStart: 0,
    blockSize: 0,
    channelAssignment: 0,
    bitsPerSample: 0,
    codedNumber: 0,
    variableBlockSize: false,
  };
  let offset = framesOffset;
  let variableBlockSize: boolean | undefined;
  for (let frameIndex = 0; offset < bytes.length && sampleCount < sampleLimit; frameIndex++) {
    readFrameHeader(bytes, offset, streamInfo, frame);
    variableBlockSize ??= frame.variableBlockSize;
    if (frame.variableBlockSize !== variableBlockSize) {
      throw new FlacDecodeError('corrupt', `frame ${frameIndex} changes the blocking strategy`, offset);
    }
    const expected = frame.variableBlockSize ? sampleCount : frameIndex;
    if (frame.codedNumber !== expected) {
      throw new FlacDecodeError(
        'corrupt',
        `frame ${frameIndex} is numbered ${frame.codedNumber}, expected ${expected} (a frame is missing)`,
        offset,
      );
    }
    if (sampleCount + frame.blockSize > capacity) {
      capacity = Math.max(capacity * 2, sampleCount + frame.blockSize);
      channels = channels.map((channel) => {
        const grown = new Int32Array(capacity);
        grown.set(channel.subarray(0, sampleCount));
        return grown;
      });
    }
    const blocks = channels.map((channel) => channel.subarray(sampleCount, sampleCount + frame.blockSize));
    reader.pos = frame.dataStart * 8;
    decodeFrameSubframes(reader, frame, blocks);
    reader.alignToByte();
    const crcOffset = reader.pos >>> 3;
    if (crcOffset + 2 > bytes.length) {
      throw new FlacDecodeError('truncated', `the stream ends inside frame ${frameIndex}`, offset);
    }
    const stored = (bytes[crcOffset]! << 8) | bytes[crcOffset + 1]!;
    const computed = crc16(bytes, offset, crcOffset);
    if (stored !== computed) {
      throw new FlacDecodeError(
        'corrupt',
        `frame ${frameIndex} fails its CRC-16 (stored ${hex16(stored)}, computed ${hex16(computed)})`,
        offset,
      );
    }
    sampleCount += frame.blockSize;
    offset = crcOffset + 2;
    if (streamInfo.totalSamples !== undefined && sampleCount > streamInfo.totalSamples) {
      throw new FlacDecodeError(
        'corrupt',
        `frame ${frameIndex} runs past the ${streamInfo.totalSamples} samples STREAMINFO announces`,
        offset,
      );
    }
  }
  const total = streamInfo.totalSamples;
  const reachedEnd = offset >= bytes.length;
  if (reachedEnd && sampleCount < sampleLimit && total !== undefined && sampleCount < total) {
    throw new FlacDecodeError(
      'truncated',
      `the stream holds ${sampleCount} samples per channel, STREAMINFO announces ${streamInfo.totalSamples}`,
      bytes.length,
    );
  }
  const decoded = channels.map((channel) => channel.subarray(0, sampleCount));
  // Only a whole stream can be checked against its MD5 (a cut one past the limit needs no check).
  const whole = reachedEnd && (total === undefined || sampleCount === total);
  if (whole && streamInfo.md5 !== undefined) {
    const actual = samplesMd5(decoded, streamInfo.bitsPerSample);
    if (actual !== streamInfo.md5) {
      throw new FlacDecodeError(
        'corrupt',
        `the decoded samples' MD5 ${actual} differs from STREAMINFO's ${streamInfo.md5}`,
        bytes.length,
      );
    }
  }
  return { streamInfo, sampleCount, channels: decoded };
}

interface FrameHeader {
  start: number;
  /** Byte after the header's CRC-8, where the first subframe starts. */
  dataStart: number;
  blockSize: number;
  /** 0-7: that many independent channels minus one; 8 left/side; 9 side/right; 10 mid/side. */
  channelAssignment: number;
  bitsPerSample: number;
  /** Frame number (fixed block size) or number of the first sample (variable block size). */
  codedNumber: number;
  variableBlockSize: boolean;
}

const LEFT_SIDE = 8;
const SIDE_RIGHT = 9;
const MID_SIDE = 10;

/** Frame-header sample sizes by code; 0 means "as STREAMINFO says", -1 is reserved. */
const BITS_PER_SAMPLE_CODES = [0, 8, 12, -1, 16, 20, 24, 32];

function readFrameHeader(bytes: Uint8Array, start: number, info: FlacStreamInfo, frame: FrameHeader): void {
  const fail = (detail: string): never => {
    throw new FlacDecodeError('corrupt', `frame header: ${detail}`, start);
  };
  // The shortest header: 4 fixed bytes, a one-byte coded number and the CRC-8.
  if (start + 6 > bytes.length) {
    throw new FlacDecodeError('truncated', 'the stream ends inside a frame header', start);
  }
  if (bytes[start] !== 0xff || (bytes[start + 1]! & 0xfe) !== 0xf8) fail('no frame sync code');
  frame.start = start;
  frame.variableBlockSize = (bytes[start + 1]! & 0x01) === 1;
  const blockSizeCode = bytes[start + 2]! >> 4;
  const sampleRateCode = bytes[start + 2]! & 0x0f;
  frame.channelAssignment = bytes[start + 3]! >> 4;
  const bitsCode = (bytes[start + 3]! >> 1) & 0x07;
  if ((bytes[start + 3]! & 0x01) !== 0) fail('reserved bit is set');
  if (blockSizeCode === 0) fail('reserved block size code 0');
  if (sampleRateCode === 15) fail('invalid sample rate code 15');
  if (frame.channelAssignment > MID_SIDE) fail(`reserved channel assignment ${frame.channelAssignment}`);
  if (bitsCode === 3) fail('reserved sample size code 3');

  let position = start + 4;
  const byteAt = (index: number): number => {
    if (index >= bytes.length) {
      throw new FlacDecodeError('truncated', 'the stream ends inside a frame header', start);
    }
    return bytes[index]!;
  };
  // The frame or sample number, coded like UTF-8 extended to 7 bytes (36 bits).
  // The lead byte's leading one bits count the bytes (none: a single byte); its rest are the top bits.
  const lead = byteAt(position++);
  const leadingOnes = Math.clz32(~(lead << 24));
  if (leadingOnes === 1 || leadingOnes === 8) fail(`invalid coded number lead byte ${hex8(lead)}`);
  const extraBytes = leadingOnes === 0 ? 0 : leadingOnes - 1;
  let number = lead & (0x7f >> leadingOnes);
  if (extraBytes === 6 && !frame.variableBlockSize) fail('a frame number longer than 31 bits');
  for (let k = 0; k < extraBytes; k++) {
    const continuation = byteAt(position++);
    if ((continuation & 0xc0) !== 0x80) fail(`invalid coded number byte ${hex8(continuation)}`);
    number = number * 64 + (continuation & 0x3f);
  }
  frame.codedNumber = number;

  if (blockSizeCode === 1) frame.blockSize = 192;
  else if (blockSizeCode <= 5) frame.blockSize = 576 << (blockSizeCode - 2);
  else if (blockSizeCode === 6) frame.blockSize = byteAt(position++) + 1;
  else if (blockSizeCode === 7) {
    frame.blockSize = ((byteAt(position) << 8) | byteAt(position + 1)) + 1;
    position += 2;
  } else frame.blockSize = 256 << (blockSizeCode - 8);
  // The sample rate does not matter to WFDB (it writes 96 kHz); its coded bytes are still skipped.
  if (sampleRateCode === 12) position += 1;
  else if (sampleRateCode === 13 || sampleRateCode === 14) position += 2;

  const crcPosition = position;
  const crc = byteAt(crcPosition);
  const computed = crc8(bytes, start, crcPosition);
  if (crc !== computed) fail(`CRC-8 mismatch (stored ${hex8(crc)}, computed ${hex8(computed)})`);
  frame.dataStart = crcPosition + 1;

  const channels = frame.channelAssignment < LEFT_SIDE ? frame.channelAssignment + 1 : 2;
  if (channels !== info.channels) fail(`${channels} channels, STREAMINFO announces ${info.channels}`);
  frame.bitsPerSample = bitsCode === 0 ? info.bitsPerSample : BITS_PER_SAMPLE_CODES[bitsCode]!;
  if (frame.bitsPerSample !== info.bitsPerSample) {
    fail(`${frame.bitsPerSample} bits per sample, STREAMINFO announces ${info.bitsPerSample}`);
  }
  if (frame.blockSize > info.maxBlockSize) {
    fail(`block size ${frame.blockSize} exceeds STREAMINFO's maximum ${info.maxBlockSize}`);
  }
}

function decodeFrameSubframes(reader: BitReader, frame: FrameHeader, blocks: Int32Array[]): void {
  const { channelAssignment, bitsPerSample, start } = frame;
  blocks.forEach((block, channel) => {
    // The side channel carries one more bit than the samples (it is a difference).
    const isSide =
      (channelAssignment === LEFT_SIDE && channel === 1) ||
      (channelAssignment === SIDE_RIGHT && channel === 0) ||
      (channelAssignment === MID_SIDE && channel === 1);
    decodeSubframe(reader, block, bitsPerSample + (isSide ? 1 : 0), start);
  });
  if (channelAssignment < LEFT_SIDE) return;
  const [first, second] = blocks as [Int32Array, Int32Array];
  const count = first.length;
  if (channelAssignment === LEFT_SIDE) {
    for (let i = 0; i < count; i++) second[i] = first[i]! - second[i]!;
  } else if (channelAssignment === SIDE_RIGHT) {
    for (let i = 0; i < count; i++) first[i] = first[i]! + second[i]!;
  } else {
    for (let i = 0; i < count; i++) {
      const side = second[i]!;
      // The encoder dropped the mid's lowest bit, which equals the side's.
      const mid = (first[i]! << 1) | (side & 1);
      first[i] = (mid + side) >> 1;
      second[i] = (mid - side) >> 1;
    }
  }
}

const SUBFRAME_CONSTANT = 0;
const SUBFRAME_VERBATIM = 1;
const SUBFRAME_FIXED_MIN = 8;
const SUBFRAME_FIXED_MAX = 12;
const SUBFRAME_LPC_MIN = 32;

function decodeSubframe(reader: BitReader, out: Int32Array, frameBits: number, frameStart: number): void {
  const fail = (detail: string): never => {
    throw new FlacDecodeError('corrupt', `subframe: ${detail}`, frameStart);
  };
  const head = reader.readUint(8);
  if ((head & 0x80) !== 0) fail('padding bit is set');
  const type = (head >> 1) & 0x3f;
  const wasted = (head & 1) === 1 ? reader.readUnary(frameStart) + 1 : 0;
  const bits = frameBits - wasted;
  if (bits < 1) fail(`${wasted} wasted bits leave none of ${frameBits}`);
  if (bits > 32) {
    throw new FlacDecodeError('unsupported', `${bits}-bit subframes (a 32-bit side channel)`, frameStart);
  }
  const count = out.length;
  if (type === SUBFRAME_CONSTANT) {
    out.fill(reader.readSigned(bits));
  } else if (type === SUBFRAME_VERBATIM) {
    for (let i = 0; i < count; i++) out[i] = reader.readSigned(bits);
  } else if (type >= SUBFRAME_FIXED_MIN && type <= SUBFRAME_FIXED_MAX) {
    const order = type - SUBFRAME_FIXED_MIN;
    if (order > count) fail(`fixed predictor order ${order} exceeds block size ${count}`);
    for (let i = 0; i < order; i++) out[i] = reader.readSigned(bits);
    decodeResidual(reader, out, order, frameStart);
    restoreFixed(out, order);
  } else if (type >= SUBFRAME_LPC_MIN) {
    const order = type - SUBFRAME_LPC_MIN + 1;
    if (order > count) fail(`LPC order ${order} exceeds block size ${count}`);
    for (let i = 0; i < order; i++) out[i] = reader.readSigned(bits);
    const precision = reader.readUint(4) + 1;
    if (precision === 16) fail('invalid coefficient precision code 15');
    const shift = reader.readSigned(5);
    if (shift < 0) fail(`negative prediction shift ${shift}`);
    const coefficients = new Float64Array(order);
    for (let j = 0; j < order; j++) coefficients[j] = reader.readSigned(precision);
    decodeResidual(reader, out, order, frameStart);
    restoreLpc(out, coefficients, shift);
  } else {
    fail(`reserved subframe type ${type}`);
  }
  if (wasted > 0) for (let i = 0; i < count; i++) out[i] = out[i]! << wasted;
}

/** Adds the fixed polynomial predictions (orders 0-4) to the residuals already in `out`. */
function restoreFixed(out: Int32Array, order: number): void {
  const count = out.length;
  switch (order) {
    case 1:
      for (let i = 1; i < count; i++) out[i] = out[i]! + out[i - 1]!;
      return;
    case 2:
      for (let i = 2; i < count; i++) out[i] = out[i]! + 2 * out[i - 1]! - out[i - 2]!;
      return;
    case 3:
      for (let i = 3; i < count; i++) out[i] = out[i]! + 3 * (out[i - 1]! - out[i - 2]!) + out[i - 3]!;
      return;
    case 4:
      for (let i = 4; i < count; i++) {
        out[i] = out[i]! + 4 * (out[i - 1]! + out[i - 3]!) - 6 * out[i - 2]! - out[i - 4]!;
      }
      return;
  }
}

/**
 * Adds the LPC predictions to the residuals already in `out`. Sums are kept in doubles: 15-bit
 * coefficients times 25-bit samples over 32 taps exceed 32 bits but stay far below 2^53, and
 * dividing by a power of two then flooring is the arithmetic right shift the format specifies.
 */
function restoreLpc(out: Int32Array, coefficients: Float64Array, shift: number): void {
  const order = coefficients.length;
  const scale = 2 ** -shift;
  for (let i = order; i < out.length; i++) {
    let sum = 0;
    for (let j = 0; j < order; j++) sum += coefficients[j]! * out[i - 1 - j]!;
    out[i] = out[i]! + Math.floor(sum * scale);
  }
}

const RICE = 0;
const RICE2 = 1;

/** Reads the partitioned Rice-coded residuals of `out` after the `order` warm-up samples. */
function decodeResidual(reader: BitReader, out: Int32Array, order: number, frameStart: number): void {
  const method = reader.readUint(2);
  if (method !== RICE && method !== RICE2) {
    throw new FlacDecodeError('corrupt', `residual: reserved coding method ${method}`, frameStart);
  }
  const parameterBits = method === RICE ? 4 : 5;
  const escapeCode = (1 << parameterBits) - 1;
  const partitionOrder = reader.readUint(4);
  const partitionSize = out.length >> partitionOrder;
  if (partitionSize << partitionOrder !== out.length || partitionSize < order) {
    throw new FlacDecodeError(
      'corrupt',
      `residual: partition order ${partitionOrder} does not fit block size ${out.length} and order ${order}`,
      frameStart,
    );
  }
  let index = order;
  for (let partition = 0; partition < 1 << partitionOrder; partition++) {
    const end = (partition + 1) * partitionSize;
    const parameter = reader.readUint(parameterBits);
    if (parameter === escapeCode) {
      // Escaped partition: plain signed numbers of a stated width (0 means all zero).
      const bits = reader.readUint(5);
      for (; index < end; index++) out[index] = reader.readSigned(bits);
    } else {
      reader.readRice(out, index, end, parameter, frameStart);
      index = end;
    }
  }
}

/** Reads a byte array bit by bit, most significant bit first, as FLAC frames are written. */
class BitReader {
  /** Position in bits. */
  pos = 0;

  /** `data` must extend at least 4 zero bytes past `end` bits (the reader loads 32-bit windows). */
  constructor(
    private readonly data: Uint8Array,
    private readonly end: number,
  ) {}

  /** The 32 bits starting at byte `index`. */
  private word(index: number): number {
    const d = this.data;
    return (d[index]! << 24) | (d[index + 1]! << 16) | (d[index + 2]! << 8) | d[index + 3]!;
  }

  private claim(bits: number): number {
    const pos = this.pos;
    if (pos + bits > this.end) {
      throw new FlacDecodeError('truncated', 'the stream ends inside a frame', pos >>> 3);
    }
    this.pos = pos + bits;
    return pos;
  }

  /** Unsigned value of the next `bits` bits (0-32). */
  readUint(bits: number): number {
    if (bits === 0) return 0;
    if (bits > 25) return this.readUint(bits - 16) * 65536 + this.readUint(16);
    const pos = this.claim(bits);
    return (this.word(pos >>> 3) << (pos & 7)) >>> (32 - bits);
  }

  /** Two's complement value of the next `bits` bits (0-32). */
  readSigned(bits: number): number {
    if (bits === 0) return 0;
    if (bits > 25) {
      const value = this.readUint(bits);
      return bits === 32 ? value | 0 : (value << (32 - bits)) >> (32 - bits);
    }
    const pos = this.claim(bits);
    return (this.word(pos >>> 3) << (pos & 7)) >> (32 - bits);
  }

  /** Counts zero bits up to the next one bit, which it consumes. */
  readUnary(frameStart: number): number {
    let pos = this.pos;
    let zeros = 0;
    while (pos < this.end) {
      const shift = pos & 7;
      // Bits past the window's 32 - shift real ones are zero, so a set bit is always a real one.
      const window = this.word(pos >>> 3) << shift;
      if (window !== 0) {
        const leading = Math.clz32(window);
        pos += leading + 1;
        if (pos > this.end) break;
        this.pos = pos;
        return zeros + leading;
      }
      zeros += 32 - shift;
      pos += 32 - shift;
    }
    throw new FlacDecodeError('truncated', 'the stream ends inside a frame', frameStart);
  }

  /** Reads Rice codes with `parameter` low bits into `out[from..to)`, undoing the zigzag sign folding. */
  readRice(out: Int32Array, from: number, to: number, parameter: number, frameStart: number): void {
    // A folded value must fit 32 bits; a longer quotient can only come from corrupt data.
    const maxQuotient = 2 ** (32 - parameter);
    const data = this.data;
    let pos = this.pos;
    for (let i = from; i < to; i++) {
      // Fast path: quotient, stop bit and low bits all lie in the 32-bit window at `pos` (almost always).
      const shift = pos & 7;
      const index = pos >>> 3;
      const window =
        ((data[index]! << 24) | (data[index + 1]! << 16) | (data[index + 2]! << 8) | data[index + 3]!) <<
        shift;
      const quotient = Math.clz32(window);
      if (window !== 0 && quotient + 1 + parameter <= 32 - shift && quotient < maxQuotient) {
        const low = parameter === 0 ? 0 : (window << (quotient + 1)) >>> (32 - parameter);
        const folded = (quotient << parameter) | low;
        out[i] = (folded >>> 1) ^ -(folded & 1);
        pos += quotient + 1 + parameter;
        continue;
      }
      this.pos = pos;
      const longQuotient = this.readUnary(frameStart);
      if (longQuotient >= maxQuotient) {
        throw new FlacDecodeError(
          'corrupt',
          `residual: Rice quotient ${longQuotient} is too large`,
          frameStart,
        );
      }
      const folded = longQuotient * 2 ** parameter + this.readUint(parameter);
      out[i] = (folded >>> 1) ^ -(folded & 1);
      pos = this.pos;
    }
    // The fast path may have taken low bits from the zero padding past the end.
    if (pos > this.end) throw new FlacDecodeError('truncated', 'the stream ends inside a frame', frameStart);
    this.pos = pos;
  }

  alignToByte(): void {
    this.pos = (this.pos + 7) & ~7;
  }
}

const CRC8_TABLE = crcTable(0x07, 8);
const CRC16_TABLE = crcTable(0x8005, 16);

function crcTable(polynomial: number, width: number): Uint16Array {
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << (width - 8);
    for (let bit = 0; bit < 8; bit++) crc = (crc & top ? (crc << 1) ^ polynomial : crc << 1) & mask;
    table[byte] = crc;
  }
  return table;
}

/** CRC-8 (polynomial x^8 + x^2 + x + 1) of `bytes[from..to)`, as the frame header carries. */
export function crc8(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = CRC8_TABLE[crc ^ bytes[i]!]!;
  return crc;
}

/** CRC-16 (polynomial x^16 + x^15 + x^2 + 1) of `bytes[from..to)`, as the frame footer carries. */
export function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >> 8) ^ bytes[i]!]!;
  return crc;
}

/**
 * MD5 over the samples interleaved by channel, each as a little-endian integer of whole bytes. Widths
 * of 1, 2 and 4 bytes are packed through a typed view (the platform is little-endian, as `formats.ts`
 * also assumes); 3-byte samples byte by byte.
 */
function samplesMd5(channels: Int32Array[], bitsPerSample: number): string {
  const width = Math.ceil(bitsPerSample / 8);
  const count = channels[0]?.length ?? 0;
  const channelCount = channels.length;
  const hash = createHash('md5');
  // Hashed in chunks so a long record does not need a second full-size copy.
  const chunk = Math.max(1, Math.min(16384, count));
  const bytes = new Uint8Array(chunk * channelCount * 4);
  const packed =
    width === 1
      ? new Int8Array(bytes.buffer)
      : width === 2
        ? new Int16Array(bytes.buffer)
        : width === 4
          ? new Int32Array(bytes.buffer)
          : undefined;
  for (let from = 0; from < count; from += chunk) {
    const to = Math.min(count, from + chunk);
    channels.forEach((channel, c) => {
      if (packed !== undefined) {
        for (let i = from, k = c; i < to; i++, k += channelCount) packed[k] = channel[i]!;
        return;
      }
      for (let i = from, b = 3 * c; i < to; i++, b += 3 * channelCount) {
        const value = channel[i]!;
        bytes[b] = value;
        bytes[b + 1] = value >> 8;
        bytes[b + 2] = value >> 16;
      }
    });
    hash.update(bytes.subarray(0, (to - from) * channelCount * width));
  }
  return hash.digest('hex');
}

function hex8(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** Signals one FLAC stream can carry (its channel count is coded in 3 bits). */
const MAX_SIGNALS_PER_FLAC_FILE = 8;

/** A FLAC signal file's samples, one array per signal. */
export interface FlacSignalFile {
  /** Whole WFDB frames after the sample offset. */
  frames: number;
  /** Per signal in header order, its `frames * samplesPerFrame` samples after the sample offset. */
  signals: Int32Array[];
}

/**
 * Decodes one WFDB FLAC signal file (format 508, 516 or 524). As WFDB writes them, the signals
 * stored in the file are the stream's channels in header order, all with the same samples per frame
 * (a WFDB frame holds `samplesPerFrame` consecutive samples of each channel); sample values are the
 * decoded integers, of at most 8, 16 or 24 bits. The `+offset` of the format field counts samples
 * per channel to skip, not bytes. Problems become `WfdbInputError`s naming `location`'s header and
 * record and the signal file.
 */
export function decodeFlacSignalFile(
  bytes: Uint8Array,
  format: FlacFormat,
  signals: readonly { index: number; spec: WfdbSignalSpec }[],
  location: { file: string; record: string },
  /** Frames the record needs from this file, when its header says (decoding stops there). */
  framesNeeded?: number,
): FlacSignalFile {
  const { fileName, samplesPerFrame, byteOffset: sampleOffset } = signals[0]!.spec;
  const refuse = (problem: WfdbProblem, field: string, reason: string): never => {
    throw new WfdbInputError(problem, reason, { ...location, field });
  };
  if (signals.length > MAX_SIGNALS_PER_FLAC_FILE) {
    refuse(
      'unparsable-header',
      `signal ${signals[MAX_SIGNALS_PER_FLAC_FILE]!.index} file`,
      `${signals.length} signals share FLAC file ${fileName}, which holds at most ${MAX_SIGNALS_PER_FLAC_FILE}`,
    );
  }
  for (const { index, spec } of signals) {
    if (spec.samplesPerFrame !== samplesPerFrame) {
      refuse(
        'unparsable-header',
        `signal ${index} samples per frame`,
        `signals of FLAC file ${fileName} must have the same samples per frame ` +
          `(${spec.samplesPerFrame}, not ${samplesPerFrame})`,
      );
    }
  }
  const maxBits = format - 500;
  let stream: FlacStream;
  try {
    const metadata = readFlacMetadata(bytes);
    const { channels, bitsPerSample } = metadata.streamInfo;
    if (channels !== signals.length) {
      refuse(
        'corrupt-signal-file',
        'signal file',
        `FLAC file ${fileName} has ${channels} channels, the header stores ${signals.length} signals in it`,
      );
    }
    if (bitsPerSample > maxBits) {
      refuse(
        'corrupt-signal-file',
        'signal file',
        `FLAC file ${fileName} holds ${bitsPerSample}-bit samples, format ${format} at most ${maxBits}-bit ones`,
      );
    }
    const sampleLimit =
      framesNeeded === undefined ? undefined : sampleOffset + framesNeeded * samplesPerFrame;
    stream = decodeFlacFrames(bytes, metadata, sampleLimit);
  } catch (error) {
    if (!(error instanceof FlacDecodeError)) throw error;
    const problem = FLAC_PROBLEMS[error.problem];
    return refuse(problem, 'signal file', `FLAC file ${fileName}: ${error.message}`);
  }

  const frames = Math.max(0, Math.floor((stream.sampleCount - sampleOffset) / samplesPerFrame));
  const end = sampleOffset + frames * samplesPerFrame;
  return { frames, signals: stream.channels.map((channel) => channel.subarray(sampleOffset, end)) };
}

const FLAC_PROBLEMS: Record<FlacProblem, WfdbProblem> = {
  truncated: 'short-signal-file',
  corrupt: 'corrupt-signal-file',
  unsupported: 'unsupported',
};
