import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { InputError } from '@enecg/common';
import { WfdbInputError } from './errors.ts';
import { decodeFlacSignalFile } from './flac.ts';
import { deinterleaveFormat16 } from './format16-kernel.ts';
import { bytesForSamples, decodeSampleStream, INVALID_SAMPLE, samplesInBytes } from './formats.ts';
import { isFlacFormat, parseWfdbHeader, type WfdbHeader, type WfdbSignalSpec } from './header.ts';

/** Digital samples of one signal: Int16Array for formats of at most 16 bits, else Int32Array. */
export type DigitalSamples = Int16Array | Int32Array;

/** A decoded WFDB record: the header and each signal's digital samples (adu). */
export interface WfdbRecord {
  header: WfdbHeader;
  /** Frames per signal (a signal holds `sampleCount * samplesPerFrame` samples). */
  sampleCount: number;
  /** One array per signal, in header order. Invalid samples keep the format's marker value. */
  digital: DigitalSamples[];
  /**
   * Per signal, the sum and invalid count gathered by the decoder's own loop where it has one that
   * can (aligned format 16); absent otherwise. Spares checks a second pass over the samples.
   */
  summaries?: (SampleSummary | undefined)[];
}

/** One signal's samples counted while decoding. */
export interface SampleSummary {
  /** Sum of all samples (invalid markers included, as WFDB checksums do), modulo 65536. */
  checksum: number;
  /** Samples equal to the format's invalid marker. */
  invalid: number;
}

/** Formats whose samples always fit 16 bits (format 8 differences can integrate beyond them). */
const SIXTEEN_BIT_FORMATS: ReadonlySet<number> = new Set([16, 61, 80, 160, 212, 310, 311, 508, 516]);

export interface ChecksumMismatch {
  signal: number;
  description: string;
  expected: number;
  actual: number;
}

/**
 * Reads and decodes a record from its header path (`.hea` may be omitted). Signal files are read from
 * the header's folder. Throws `WfdbInputError` (an `InputError`) naming file, record and field.
 */
export async function readWfdbRecord(headerPath: string): Promise<WfdbRecord> {
  const path = headerPath.endsWith('.hea') ? headerPath : `${headerPath}.hea`;
  const header = parseWfdbHeader(await readTextFile(path, path), path);
  const folder = dirname(path);
  const files = new Map<string, Uint8Array>();
  for (const name of signalFileNames(header, path)) {
    files.set(name, await readSignalFile(join(folder, name), path, header.recordName));
  }
  return decodeWfdbRecord(header, files, path);
}

/** Distinct signal file names in header order, refused when they could point outside the header's folder. */
export function signalFileNames(header: WfdbHeader, headerFile: string): string[] {
  const names = [...new Set(header.signals.map((signal) => signal.fileName))];
  for (const name of names) {
    if (name === '~') {
      throw new WfdbInputError('unsupported', 'signals without a file (~) are not supported', {
        file: headerFile,
        record: header.recordName,
        field: 'signal file',
      });
    }
    if (isAbsolute(name) || name.split(/[\\/]/).includes('..')) {
      throw new WfdbInputError(
        'unsafe-path',
        `signal file ${JSON.stringify(name)} leaves the record's folder`,
        {
          file: headerFile,
          record: header.recordName,
          field: 'signal file',
        },
      );
    }
  }
  return names;
}

async function readTextFile(path: string, headerFile: string): Promise<string> {
  try {
    return await readFile(path, 'latin1');
  } catch (error) {
    throw new InputError(`cannot read header: ${(error as Error).message}`, { file: headerFile });
  }
}

/** Reads one signal file; a missing one becomes a `missing-signal-file` error naming the record. */
export async function readSignalFile(path: string, headerFile: string, record: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new WfdbInputError(
      'missing-signal-file',
      code === 'ENOENT'
        ? `signal file ${path} named by the header does not exist`
        : `cannot read signal file ${path}: ${(error as Error).message}`,
      { file: headerFile, record, field: 'signal file' },
    );
  }
}

/**
 * Decodes the signals of `header` from the bytes of its signal files (keyed by the file name written
 * in the header). Pure: ingest reads the bytes once and both hashes and decodes them.
 * `allocateInt16` provides the memory of aligned format 16 signals (ingest reuses buffers across
 * batches); by default each record gets its own.
 */
export function decodeWfdbRecord(
  header: WfdbHeader,
  files: ReadonlyMap<string, Uint8Array>,
  headerFile: string,
  allocateInt16: (length: number) => Int16Array = (length) => new Int16Array(length),
): WfdbRecord {
  const groups = groupSignalsByFile(header, headerFile);
  const location = (field: string) => ({ file: headerFile, record: header.recordName, field });
  let sampleCount = header.sampleCount;
  const digital: DigitalSamples[] = new Array(header.signals.length);
  let summaries: (SampleSummary | undefined)[] | undefined;

  for (const group of groups) {
    const bytes = files.get(group.fileName);
    if (bytes === undefined) {
      throw new WfdbInputError(
        'missing-signal-file',
        `signal file ${group.fileName} was not provided`,
        location('signal file'),
      );
    }
    const { format, byteOffset } = group.signals[0]!.spec;
    const frameSize = group.signals.reduce((sum, s) => sum + s.spec.samplesPerFrame, 0);
    const maxSkew = Math.max(...group.signals.map((s) => s.spec.skew));
    /** The record's sample count: the header's, else what the first file holds; refuses a short file. */
    const requireFrames = (framesInFile: number, extent: string): number => {
      const needed = sampleCount ?? Math.max(0, framesInFile - maxSkew);
      if (framesInFile < needed) {
        throw new WfdbInputError(
          'short-signal-file',
          `signal file ${group.fileName} holds ${framesInFile} frames ${extent}, the header announces ${needed}`,
          location('number of samples'),
        );
      }
      return needed;
    };
    if (isFlacFormat(format)) {
      const flac = decodeFlacSignalFile(
        bytes,
        format,
        group.signals,
        { file: headerFile, record: header.recordName },
        sampleCount === undefined ? undefined : sampleCount + maxSkew,
      );
      const frames = requireFrames(flac.frames, `after its ${byteOffset}-sample offset`);
      sampleCount = frames;
      group.signals.forEach(({ index, spec }, channel) => {
        digital[index] = skewedSignal(flac.signals[channel]!, spec, frames);
      });
      continue;
    }
    const payload = bytes.subarray(Math.min(byteOffset, bytes.length));
    const framesInFile = Math.floor(samplesInBytes(format, payload.length) / frameSize);
    sampleCount = requireFrames(framesInFile, `after its ${byteOffset}-byte offset (${bytes.length} bytes)`);
    if (format === 16 && maxSkew === 0 && frameSize === group.signals.length) {
      // MIMIC-IV-ECG's case (format 16, one sample per frame): de-interleaved by a WebAssembly
      // kernel, which also sums each signal and counts its invalid samples for validation.
      // One allocation for the group, each signal a view into it: fewer, larger objects for the GC.
      const signals = allocateInt16(sampleCount * frameSize);
      const totals = deinterleaveFormat16(payload, frameSize, sampleCount, signals);
      summaries ??= new Array(header.signals.length);
      group.signals.forEach(({ index }, offsetInFrame) => {
        digital[index] = signals.subarray(offsetInFrame * sampleCount!, (offsetInFrame + 1) * sampleCount!);
        summaries![index] = {
          checksum: mod65536(totals[2 * offsetInFrame]!),
          invalid: totals[2 * offsetInFrame + 1]!,
        };
      });
      continue;
    }
    const framesToRead = Math.min(framesInFile, sampleCount + maxSkew);
    const stream = new Int32Array(framesToRead * frameSize);
    decodeSampleStream(format, payload.subarray(0, bytesForSamples(format, stream.length)), stream);

    let offsetInFrame = 0;
    for (const { index, spec } of group.signals) {
      digital[index] = extractSignal(stream, spec, offsetInFrame, frameSize, sampleCount, framesToRead);
      offsetInFrame += spec.samplesPerFrame;
    }
  }
  return {
    header,
    sampleCount: sampleCount ?? 0,
    digital,
    ...(summaries === undefined ? {} : { summaries }),
  };
}

function newSignalArray(spec: WfdbSignalSpec, length: number): DigitalSamples {
  return SIXTEEN_BIT_FORMATS.has(spec.format) ? new Int16Array(length) : new Int32Array(length);
}

/**
 * `sampleCount` frames of one signal whose samples are stored on their own (a FLAC channel), starting
 * `skew` frames in; frames past the stored ones are missing, as in `extractSignal`.
 */
function skewedSignal(samples: Int32Array, spec: WfdbSignalSpec, sampleCount: number): DigitalSamples {
  const out = newSignalArray(spec, sampleCount * spec.samplesPerFrame);
  const start = spec.skew * spec.samplesPerFrame;
  const stored = Math.max(0, Math.min(out.length, samples.length - start));
  out.set(samples.subarray(start, start + stored));
  out.fill(INVALID_SAMPLE[spec.format] ?? 0, stored);
  return out;
}

function extractSignal(
  stream: Int32Array,
  spec: WfdbSignalSpec,
  offsetInFrame: number,
  frameSize: number,
  sampleCount: number,
  framesRead: number,
): DigitalSamples {
  const perFrame = spec.samplesPerFrame;
  const out = newSignalArray(spec, sampleCount * perFrame);
  // Skewed samples that would lie past the end of the file are missing, not zero.
  const invalid = INVALID_SAMPLE[spec.format] ?? 0;
  if (frameSize === 1 && spec.skew === 0) {
    out.set(stream.subarray(0, out.length));
  } else {
    for (let frame = 0; frame < sampleCount; frame++) {
      const source = frame + spec.skew;
      for (let k = 0; k < perFrame; k++) {
        out[frame * perFrame + k] =
          source < framesRead ? stream[source * frameSize + offsetInFrame + k]! : invalid;
      }
    }
  }
  if (spec.format === 8) {
    let value = spec.initialValue;
    for (let i = 0; i < out.length; i++) {
      value += out[i]!;
      out[i] = value;
    }
  }
  return out;
}

interface SignalGroup {
  fileName: string;
  signals: { index: number; spec: WfdbSignalSpec }[];
}

/** Signals sharing a file are interleaved frame by frame in it; WFDB requires one format per file. */
function groupSignalsByFile(header: WfdbHeader, headerFile: string): SignalGroup[] {
  const groups = new Map<string, SignalGroup>();
  header.signals.forEach((spec, index) => {
    let group = groups.get(spec.fileName);
    if (group === undefined) {
      group = { fileName: spec.fileName, signals: [] };
      groups.set(spec.fileName, group);
    }
    const first = group.signals[0]?.spec;
    if (first !== undefined && (first.format !== spec.format || first.byteOffset !== spec.byteOffset)) {
      throw new WfdbInputError(
        'unparsable-header',
        `signal ${index} shares file ${spec.fileName} but not its format and byte offset`,
        { file: headerFile, record: header.recordName, field: `signal ${index} format` },
      );
    }
    group.signals.push({ index, spec });
  });
  return [...groups.values()];
}

/** Signals whose 16-bit sample sum differs from the header's checksum (compared modulo 65536). */
export function checksumMismatches(record: WfdbRecord): ChecksumMismatch[] {
  const mismatches: ChecksumMismatch[] = [];
  record.header.signals.forEach((spec, index) => {
    if (spec.checksum === undefined) return;
    const actual = sampleChecksum(record.digital[index]!);
    const expected = mod65536(spec.checksum);
    if (actual !== expected)
      mismatches.push({ signal: index, description: spec.description, expected, actual });
  });
  return mismatches;
}

/** WFDB's checksum of a signal: the sum of its samples modulo 65536. */
export function sampleChecksum(samples: DigitalSamples): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum = (sum + samples[i]!) | 0;
  return mod65536(sum);
}

export function mod65536(value: number): number {
  return ((value % 65536) + 65536) % 65536;
}

/** Index of the signal named `lead` (exact match first, then case-insensitive), or -1. */
export function findLead(header: WfdbHeader, lead: string): number {
  const exact = header.signals.findIndex((s) => s.description === lead);
  if (exact >= 0) return exact;
  const lower = lead.toLowerCase();
  return header.signals.findIndex((s) => s.description.toLowerCase() === lower);
}

/**
 * Physical values of one signal, addressed by index or lead name: (digital - baseline) / gain, with
 * the format's invalid-sample marker mapped to NaN.
 */
export function physicalSignal(record: WfdbRecord, signal: number | string): Float64Array {
  const index = typeof signal === 'number' ? signal : findLead(record.header, signal);
  const spec = record.header.signals[index];
  if (spec === undefined) {
    throw new InputError(`no signal ${JSON.stringify(signal)}`, {
      file: record.header.recordName,
      record: record.header.recordName,
      field: 'signal',
    });
  }
  const digital = record.digital[index]!;
  const invalid = INVALID_SAMPLE[spec.format];
  const out = new Float64Array(digital.length);
  for (let i = 0; i < digital.length; i++) {
    const value = digital[i]!;
    out[i] = value === invalid ? Number.NaN : (value - spec.baseline) / spec.gain;
  }
  return out;
}
