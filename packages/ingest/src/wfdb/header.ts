import { WfdbInputError } from './errors.ts';

/** FLAC-compressed formats: 8-, 16- and 24-bit samples, the signals of a file as one stream's channels (`flac.ts`). */
const FLAC_FORMATS = [508, 516, 524] as const;
/** Storage formats this reader decodes: the binary ones of `formats.ts`, then FLAC. */
export const SUPPORTED_FORMATS = [8, 16, 24, 32, 61, 80, 160, 212, 310, 311, ...FLAC_FORMATS] as const;
export type WfdbFormat = (typeof SUPPORTED_FORMATS)[number];
export type FlacFormat = (typeof FLAC_FORMATS)[number];
/** Formats whose samples lie at fixed byte positions in the signal file. */
export type BinaryFormat = Exclude<WfdbFormat, FlacFormat>;

export function isFlacFormat(format: WfdbFormat): format is FlacFormat {
  return (FLAC_FORMATS as readonly number[]).includes(format);
}

/** WFDB's default gain (adu per physical unit) when a header gives none or gives 0. */
export const DEFAULT_GAIN = 200;
/** WFDB's default sampling frequency when the record line gives none. */
export const DEFAULT_SAMPLING_FREQUENCY = 250;

export interface WfdbSignalSpec {
  /** Signal file name as written in the header, relative to the header's folder. */
  fileName: string;
  format: WfdbFormat;
  samplesPerFrame: number;
  skew: number;
  /** Bytes to skip at the start of the signal file (the `+offset` suffix of the format); samples per signal for FLAC. */
  byteOffset: number;
  /** adu per physical unit; a header gain of 0 or none means `DEFAULT_GAIN`. */
  gain: number;
  /** Digital value of physical zero; defaults to `adcZero`. */
  baseline: number;
  units: string;
  adcResolution: number;
  adcZero: number;
  /** Value of the sample before the first one (format 8 differences start from it). */
  initialValue: number;
  /** 16-bit sum of all samples as printed (signed or unsigned): compare modulo 65536. */
  checksum?: number;
  blockSize: number;
  /** Free text after the fixed fields; usually the lead name. */
  description: string;
}

export interface WfdbHeader {
  recordName: string;
  samplingFrequency: number;
  counterFrequency?: number;
  baseCounter?: number;
  /** Samples per signal; undefined when the header leaves it to the signal file's length. */
  sampleCount?: number;
  /** `HH:MM:SS[.sss]` as written. */
  baseTime?: string;
  /** `DD/MM/YYYY` as written. */
  baseDate?: string;
  signals: WfdbSignalSpec[];
  /** Comment lines without the leading `#` and one following space. */
  comments: string[];
}

const DEFAULT_RESOLUTION: Record<WfdbFormat, number> = {
  8: 8,
  80: 8,
  16: 16,
  61: 16,
  160: 16,
  24: 24,
  32: 32,
  212: 12,
  310: 10,
  311: 10,
  508: 8,
  516: 16,
  524: 24,
};

const FORMAT_FIELD = /^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$/;
const GAIN_FIELD = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\(([+-]?\d+)\))?(?:\/(\S+))?$/;
const FREQUENCY_FIELD =
  /^((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\/((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\(([+-]?\d+)\))?)?$/;
const INTEGER = /^[+-]?\d+$/;
const TIME_FIELD = /^\d{1,2}(?::\d{1,2}){0,2}(?:\.\d+)?$/;
const DATE_FIELD = /^\d{1,2}\/\d{1,2}\/\d{1,4}$/;

/**
 * Parses the text of a WFDB header (`.hea`). Fields may be separated by spaces or tabs (GE MUSE
 * exports use tabs); line ends may be CRLF. `headerFile` only labels errors.
 */
export function parseWfdbHeader(text: string, headerFile: string): WfdbHeader {
  const comments: string[] = [];
  const lines: { text: string; number: number }[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) comments.push(trimmed.slice(1).replace(/^ /, ''));
    else if (trimmed !== '') lines.push({ text: trimmed, number: index + 1 });
  });
  const recordLine = lines[0];
  if (recordLine === undefined) {
    throw new WfdbInputError('unparsable-header', 'header has no record line', {
      file: headerFile,
      field: 'record line',
    });
  }
  const fail = (field: string, reason: string, line = recordLine.number, record?: string): never => {
    throw new WfdbInputError('unparsable-header', reason, {
      file: headerFile,
      ...(record === undefined ? {} : { record }),
      field,
      line,
    });
  };

  const recordFields = recordLine.text.split(/[ \t]+/);
  const [nameField = '', signalCountField, frequencyField, sampleCountField, timeField, dateField] =
    recordFields;
  const recordName = nameField;
  if (recordName.includes('/')) {
    throw new WfdbInputError('unsupported', 'multi-segment records are not supported', {
      file: headerFile,
      record: nameField.split('/')[0],
      field: 'record name',
      line: recordLine.number,
    });
  }
  if (signalCountField === undefined || !INTEGER.test(signalCountField)) {
    fail('number of signals', `expected an integer, got ${JSON.stringify(signalCountField ?? '')}`);
  }
  const signalCount = Number(signalCountField);

  const header: WfdbHeader = {
    recordName,
    samplingFrequency: DEFAULT_SAMPLING_FREQUENCY,
    signals: [],
    comments,
  };
  if (frequencyField !== undefined) {
    const match = FREQUENCY_FIELD.exec(frequencyField);
    const frequency = Number(match?.[1]);
    if (!match || !(frequency > 0 && Number.isFinite(frequency))) {
      fail('sampling frequency', `expected a finite positive number, got ${JSON.stringify(frequencyField)}`);
    }
    header.samplingFrequency = Number(match![1]);
    if (match![2] !== undefined) header.counterFrequency = Number(match![2]);
    if (match![3] !== undefined) header.baseCounter = Number(match![3]);
  }
  if (sampleCountField !== undefined) {
    if (!INTEGER.test(sampleCountField) || Number(sampleCountField) < 0) {
      fail('number of samples', `expected a non-negative integer, got ${JSON.stringify(sampleCountField)}`);
    }
    // 0 means "unknown" in WFDB: the signal file's length decides.
    if (Number(sampleCountField) > 0) header.sampleCount = Number(sampleCountField);
  }
  if (timeField !== undefined) {
    if (!TIME_FIELD.test(timeField)) fail('base time', `expected HH:MM:SS, got ${JSON.stringify(timeField)}`);
    header.baseTime = timeField;
  }
  if (dateField !== undefined) {
    if (!DATE_FIELD.test(dateField))
      fail('base date', `expected DD/MM/YYYY, got ${JSON.stringify(dateField)}`);
    header.baseDate = dateField;
  }

  const signalLines = lines.slice(1);
  if (signalLines.length < signalCount) {
    fail(
      'number of signals',
      `record line announces ${signalCount} signals but ${signalLines.length} signal lines follow`,
      recordLine.number,
      recordName,
    );
  }
  for (let index = 0; index < signalCount; index++) {
    const line = signalLines[index]!;
    header.signals.push(
      parseSignalLine(
        line.text,
        index,
        (field, reason) => fail(field, reason, line.number, recordName),
        (field, reason) => {
          throw new WfdbInputError('unsupported', reason, {
            file: headerFile,
            record: recordName,
            field,
            line: line.number,
          });
        },
      ),
    );
  }
  return header;
}

function parseSignalLine(
  text: string,
  index: number,
  fail: (field: string, reason: string) => never,
  unsupported: (field: string, reason: string) => never,
): WfdbSignalSpec {
  // The description is free text and may hold spaces, so fields are taken one at a time.
  let rest = text;
  const next = (): string | undefined => {
    const match = /^[ \t]*(\S+)/.exec(rest);
    if (!match) return undefined;
    rest = rest.slice(match[0].length);
    return match[1];
  };
  const label = `signal ${index}`;
  const fileName = next()!;
  const formatField = next();
  const formatMatch = formatField === undefined ? null : FORMAT_FIELD.exec(formatField);
  if (!formatMatch)
    fail(`${label} format`, `expected a storage format, got ${JSON.stringify(formatField ?? '')}`);
  const format = Number(formatMatch![1]);
  if (!(SUPPORTED_FORMATS as readonly number[]).includes(format)) {
    unsupported(
      `${label} format`,
      `storage format ${format} is not supported (supported: ${SUPPORTED_FORMATS.join(', ')})`,
    );
  }
  const wfdbFormat = format as WfdbFormat;
  const spec: WfdbSignalSpec = {
    fileName,
    format: wfdbFormat,
    samplesPerFrame: formatMatch![2] === undefined ? 1 : Number(formatMatch![2]),
    skew: formatMatch![3] === undefined ? 0 : Number(formatMatch![3]),
    byteOffset: formatMatch![4] === undefined ? 0 : Number(formatMatch![4]),
    gain: DEFAULT_GAIN,
    baseline: 0,
    units: 'mV',
    adcResolution: DEFAULT_RESOLUTION[wfdbFormat],
    adcZero: 0,
    initialValue: 0,
    blockSize: 0,
    description: '',
  };
  if (spec.samplesPerFrame < 1) fail(`${label} samples per frame`, 'must be at least 1');

  let explicitBaseline: number | undefined;
  const gainField = next();
  if (gainField !== undefined) {
    const match = GAIN_FIELD.exec(gainField);
    if (!match) fail(`${label} gain`, `expected gain[(baseline)][/units], got ${JSON.stringify(gainField)}`);
    const gain = Number(match![1]);
    if (!Number.isFinite(gain))
      fail(`${label} gain`, `expected a finite number, got ${JSON.stringify(gainField)}`);
    spec.gain = gain === 0 ? DEFAULT_GAIN : gain;
    if (match![2] !== undefined) explicitBaseline = Number(match![2]);
    if (match![3] !== undefined) spec.units = match![3];
  }
  const integerField = (name: string): number | undefined => {
    const value = next();
    if (value === undefined) return undefined;
    if (!INTEGER.test(value)) fail(`${label} ${name}`, `expected an integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
  const resolution = integerField('ADC resolution');
  if (resolution !== undefined && resolution > 0) spec.adcResolution = resolution;
  spec.adcZero = integerField('ADC zero') ?? 0;
  spec.initialValue = integerField('initial value') ?? spec.adcZero;
  const checksum = integerField('checksum');
  if (checksum !== undefined) spec.checksum = checksum;
  spec.blockSize = integerField('block size') ?? 0;
  spec.description = rest.trim();
  spec.baseline = explicitBaseline ?? spec.adcZero;
  return spec;
}
