import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** ../shared/data relative to the repository root, or ENECG_SHARED_DATA. */
export const SHARED_DATA =
  process.env.ENECG_SHARED_DATA ?? resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');
export const HAS_SHARED_DATA = existsSync(SHARED_DATA);
export const NEEDS_SHARED_DATA = `(needs the real samples in ${SHARED_DATA} or ENECG_SHARED_DATA)`;

export interface Table {
  header: string[];
  rows: Record<string, string>[];
  /** The raw text lines, header included. */
  lines: string[];
}

/** RFC 4180 parsing, written here so the test does not share code with the writer it checks. */
export function parseCsv(text: string): Table {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  const [header, ...body] = records;
  return {
    header: header!,
    rows: body.map((cells) => Object.fromEntries(header!.map((name, i) => [name, cells[i] ?? '']))),
    lines: text.split('\n').filter((l) => l !== ''),
  };
}

export async function readTable(path: string): Promise<Table> {
  const bytes = await readFile(path);
  return parseCsv((path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
}

export interface DecodedRecord {
  recordLine: string[];
  signalLines: string[][];
  comments: string[];
  /** Samples per lead, decoded from the .dat by hand. */
  signals: Int16Array[];
  datBytes: number;
}

/** Reads a format-16 WFDB record: header fields plus the de-interleaved little-endian samples. */
export async function decodeRecord(basePath: string): Promise<DecodedRecord> {
  const header = (await readFile(`${basePath}.hea`, 'utf8')).split(/\r?\n/).filter((l) => l !== '');
  const recordLine = header[0]!.trim().split(/\s+/);
  const nSignals = Number(recordLine[1]);
  const nSamples = Number(recordLine[3]);
  const signalLines = header.slice(1, 1 + nSignals).map((l) => l.trim().split(/\s+/));
  const comments = header.slice(1 + nSignals);
  const datName = signalLines[0]![0]!;
  const dat = await readFile(join(basePath, '..', datName));
  const view = new DataView(dat.buffer, dat.byteOffset, dat.byteLength);
  const signals = Array.from({ length: nSignals }, () => new Int16Array(nSamples));
  for (let i = 0; i < nSamples; i++) {
    for (let s = 0; s < nSignals; s++) signals[s]![i] = view.getInt16(2 * (i * nSignals + s), true);
  }
  return { recordLine, signalLines, comments, signals, datBytes: dat.byteLength };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
