import { createHash } from 'node:crypto';
import { crc8, crc16 } from '../src/wfdb/flac.ts';

/**
 * A small FLAC writer for hand-built test streams: each test states exactly which subframe type,
 * predictor, residual coding and stereo mode a frame uses, which no real encoder lets one choose.
 * Predictions and residuals are computed here from the RFC 9639 formulas, independently of the decoder.
 */

export class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  /** Appends the low `bits` bits of `value` (two's complement for negatives), most significant first. */
  write(value: number, bits: number): this {
    for (let bit = bits - 1; bit >= 0; bit--) {
      this.current = (this.current << 1) | (Math.floor(value / 2 ** bit) & 1);
      if (++this.used === 8) this.flush();
    }
    return this;
  }

  unary(zeros: number): this {
    for (let i = 0; i < zeros; i++) this.write(0, 1);
    return this.write(1, 1);
  }

  alignToByte(): this {
    while (this.used !== 0) this.write(0, 1);
    return this;
  }

  get length(): number {
    return this.bytes.length;
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  private flush(): void {
    this.bytes.push(this.current & 0xff);
    this.current = 0;
    this.used = 0;
  }
}

export type Residual =
  | { coding: 'rice' | 'rice2'; partitionOrder?: number; parameters: (number | { escapeBits: number })[] }
  | { coding: 'reserved' };

export type Subframe =
  | { type: 'constant'; value: number; wastedBits?: number }
  | { type: 'verbatim'; samples: number[]; wastedBits?: number }
  | { type: 'fixed'; order: number; samples: number[]; residual: Residual; wastedBits?: number }
  | {
      type: 'lpc';
      samples: number[];
      precision: number;
      shift: number;
      coefficients: number[];
      residual: Residual;
      wastedBits?: number;
    }
  | { type: 'raw'; write: (writer: BitWriter) => void };

const FIXED_COEFFICIENTS = [[], [1], [2, -1], [3, -3, 1], [4, -6, 4, -1]];

function residuals(samples: number[], order: number, predict: (i: number) => number): number[] {
  return samples.slice(order).map((value, k) => value - predict(k + order));
}

function writeResidual(writer: BitWriter, values: number[], order: number, residual: Residual, size: number) {
  if (residual.coding === 'reserved') {
    writer.write(2, 2);
    return;
  }
  const parameterBits = residual.coding === 'rice' ? 4 : 5;
  const partitionOrder = residual.partitionOrder ?? 0;
  writer.write(residual.coding === 'rice' ? 0 : 1, 2).write(partitionOrder, 4);
  const partitionSize = size >> partitionOrder;
  let index = 0;
  residual.parameters.forEach((parameter, partition) => {
    const count = partition === 0 ? partitionSize - order : partitionSize;
    const part = values.slice(index, index + count);
    index += count;
    if (typeof parameter === 'object') {
      writer.write(2 ** parameterBits - 1, parameterBits).write(parameter.escapeBits, 5);
      for (const value of part) writer.write(value, parameter.escapeBits);
      return;
    }
    writer.write(parameter, parameterBits);
    for (const value of part) {
      const folded = value >= 0 ? 2 * value : -2 * value - 1;
      writer.unary(Math.floor(folded / 2 ** parameter)).write(folded % 2 ** parameter, parameter);
    }
  });
}

export function writeSubframe(writer: BitWriter, subframe: Subframe, bits: number, size: number): void {
  if (subframe.type === 'raw') {
    subframe.write(writer);
    return;
  }
  const wasted = subframe.wastedBits ?? 0;
  const typeCode =
    subframe.type === 'constant'
      ? 0
      : subframe.type === 'verbatim'
        ? 1
        : subframe.type === 'fixed'
          ? 8 + subframe.order
          : 31 + subframe.coefficients.length;
  writer.write(0, 1).write(typeCode, 6);
  if (wasted > 0) writer.write(1, 1).unary(wasted - 1);
  else writer.write(0, 1);
  const width = bits - wasted;
  const shrink = (value: number) => Math.floor(value / 2 ** wasted);
  switch (subframe.type) {
    case 'constant':
      writer.write(shrink(subframe.value), width);
      return;
    case 'verbatim':
      for (const value of subframe.samples) writer.write(shrink(value), width);
      return;
    case 'fixed': {
      const samples = subframe.samples.map(shrink);
      const coefficients = FIXED_COEFFICIENTS[subframe.order]!;
      for (const value of samples.slice(0, subframe.order)) writer.write(value, width);
      const predict = (i: number) => coefficients.reduce((sum, c, j) => sum + c * samples[i - 1 - j]!, 0);
      writeResidual(
        writer,
        residuals(samples, subframe.order, predict),
        subframe.order,
        subframe.residual,
        size,
      );
      return;
    }
    case 'lpc': {
      const samples = subframe.samples.map(shrink);
      const order = subframe.coefficients.length;
      for (const value of samples.slice(0, order)) writer.write(value, width);
      writer.write(subframe.precision - 1, 4).write(subframe.shift, 5);
      for (const c of subframe.coefficients) writer.write(c, subframe.precision);
      const predict = (i: number) =>
        Math.floor(
          subframe.coefficients.reduce((sum, c, j) => sum + c * samples[i - 1 - j]!, 0) / 2 ** subframe.shift,
        );
      writeResidual(writer, residuals(samples, order, predict), order, subframe.residual, size);
      return;
    }
  }
}

/** The coded frame or sample number: UTF-8's scheme, extended to 7 bytes. */
export function codedNumber(value: number): number[] {
  if (value < 0x80) return [value];
  let extra = 1;
  while (value >= 2 ** (6 * extra + 6 - extra)) extra++;
  const out: number[] = [];
  let rest = value;
  for (let k = 0; k < extra; k++) {
    out.unshift(0x80 | (rest % 64));
    rest = Math.floor(rest / 64);
  }
  const lead = (0xff << (7 - extra)) & 0xff;
  return [lead | rest, ...out];
}

export interface Frame {
  /** Samples per channel. */
  blockSize: number;
  /** 0-7 independent channels minus one; 8 left/side; 9 side/right; 10 mid/side. */
  channelAssignment?: number;
  subframes: Subframe[];
  /** Frame number (fixed block size) or first sample number (variable); the writer counts if absent. */
  number?: number;
  /** Block size code; by default the shortest that states `blockSize`. */
  blockSizeCode?: number;
  /** Sample rate code and its coded tail, if any. */
  sampleRate?: { code: number; tail?: number[] };
  /** Sample size code; 0 (as STREAMINFO) by default. */
  bitsCode?: number;
}

function blockSizeBytes(blockSize: number, code?: number): { code: number; tail: number[] } {
  const common: Record<number, number> = { 192: 1, 576: 2, 1152: 3, 2304: 4, 4608: 5 };
  for (let k = 0; k < 8; k++) common[256 << k] = 8 + k;
  const chosen = code ?? common[blockSize] ?? (blockSize <= 256 ? 6 : 7);
  if (chosen === 6) return { code: 6, tail: [blockSize - 1] };
  if (chosen === 7) return { code: 7, tail: [(blockSize - 1) >> 8, (blockSize - 1) & 0xff] };
  return { code: chosen, tail: [] };
}

export function writeFrame(
  frame: Frame,
  bitsPerSample: number,
  variable: boolean,
  number: number,
): { bytes: Uint8Array; headerLength: number } {
  const assignment = frame.channelAssignment ?? frame.subframes.length - 1;
  const size = blockSizeBytes(frame.blockSize, frame.blockSizeCode);
  const rate = frame.sampleRate ?? { code: 0 };
  const header = [
    0xff,
    0xf8 | (variable ? 1 : 0),
    (size.code << 4) | rate.code,
    (assignment << 4) | ((frame.bitsCode ?? 0) << 1),
    ...codedNumber(frame.number ?? number),
    ...size.tail,
    ...(rate.tail ?? []),
  ];
  const headerBytes = Uint8Array.from(header);
  const writer = new BitWriter();
  for (const byte of header) writer.write(byte, 8);
  writer.write(crc8(headerBytes, 0, headerBytes.length), 8);
  frame.subframes.forEach((subframe, channel) => {
    const isSide =
      (assignment === 8 && channel === 1) ||
      (assignment === 9 && channel === 0) ||
      (assignment === 10 && channel === 1);
    writeSubframe(writer, subframe, bitsPerSample + (isSide ? 1 : 0), frame.blockSize);
  });
  writer.alignToByte();
  const body = writer.toBytes();
  const crc = crc16(body, 0, body.length);
  const bytes = new Uint8Array(body.length + 2);
  bytes.set(body);
  bytes[body.length] = crc >> 8;
  bytes[body.length + 1] = crc & 0xff;
  return { bytes, headerLength: header.length + 1 };
}

/** The channels a stereo mode stores for `left` and `right` (RFC 9639 section 9.2). */
export function stereoChannels(mode: 8 | 9 | 10, left: number[], right: number[]): [number[], number[]] {
  const side = left.map((l, i) => l - right[i]!);
  if (mode === 8) return [left, side];
  if (mode === 9) return [side, right];
  return [left.map((l, i) => Math.floor((l + right[i]!) / 2)), side];
}

export interface MetadataBlock {
  type: number;
  body: Uint8Array;
}

export interface StreamOptions {
  bitsPerSample: number;
  channels: number;
  frames: Frame[];
  /** Variable block size: frames carry sample numbers. */
  variable?: boolean;
  /** Blocks written after STREAMINFO (VORBIS_COMMENT, PADDING, ...). */
  metadata?: MetadataBlock[];
  /** STREAMINFO's total; the real total by default, 0 to say "unknown". */
  totalSamples?: number;
  /** The decoded samples per channel, to sign with an MD5; unsigned (zero MD5) when absent. */
  md5Of?: number[][];
  maxBlockSize?: number;
}

export function md5OfSamples(channels: number[][], bitsPerSample: number): Uint8Array {
  const width = Math.ceil(bitsPerSample / 8);
  const bytes: number[] = [];
  for (let i = 0; i < channels[0]!.length; i++) {
    for (const channel of channels) {
      for (let k = 0; k < width; k++) bytes.push(Math.floor(channel[i]! / 2 ** (8 * k)) & 0xff);
    }
  }
  return createHash('md5').update(Uint8Array.from(bytes)).digest();
}

export function writeFlacStream(options: StreamOptions): Uint8Array {
  const total = options.frames.reduce((sum, f) => sum + f.blockSize, 0);
  const maxBlock = options.maxBlockSize ?? Math.max(16, ...options.frames.map((f) => f.blockSize));
  const info = new BitWriter()
    .write(16, 16)
    .write(maxBlock, 16)
    .write(0, 24)
    .write(0, 24)
    .write(96000, 20)
    .write(options.channels - 1, 3)
    .write(options.bitsPerSample - 1, 5)
    .write(options.totalSamples ?? total, 36)
    .toBytes();
  const md5 =
    options.md5Of === undefined ? new Uint8Array(16) : md5OfSamples(options.md5Of, options.bitsPerSample);
  const blocks: MetadataBlock[] = [
    { type: 0, body: Uint8Array.from([...info, ...md5]) },
    ...(options.metadata ?? []),
  ];
  const parts: Uint8Array[] = [Uint8Array.from([0x66, 0x4c, 0x61, 0x43])];
  blocks.forEach((block, index) => {
    const last = index === blocks.length - 1 ? 0x80 : 0;
    const length = block.body.length;
    parts.push(
      Uint8Array.from([last | block.type, length >> 16, (length >> 8) & 0xff, length & 0xff]),
      block.body,
    );
  });
  let sampleNumber = 0;
  options.frames.forEach((frame, index) => {
    const variable = options.variable ?? false;
    parts.push(writeFrame(frame, options.bitsPerSample, variable, variable ? sampleNumber : index).bytes);
    sampleNumber += frame.blockSize;
  });
  return new Uint8Array(Buffer.concat(parts));
}
