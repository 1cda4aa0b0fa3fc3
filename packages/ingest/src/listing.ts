import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { createInterface } from 'node:readline';
import { InputError } from '@enecg/common';

/** One row of MIMIC-IV-ECG's record_list.csv (v1.0 and the demo share the columns). */
export interface ListedRecord {
  /** 1-based line in the CSV, for error messages. */
  line: number;
  subjectId: number;
  studyId: number;
  /** As written, e.g. `2180-07-23 08:44:00`. */
  ecgTime: string;
  /** Record path relative to the source folder, without extension, exactly as listed. */
  path: string;
}

/** A row that cannot be used; it is quarantined with this reason, the run goes on. */
export interface RejectedListing {
  line: number;
  path: string;
  studyId?: number;
  subjectId?: number;
  field: string;
  reason: string;
}

export type ListingRow = { ok: true; record: ListedRecord } | { ok: false; rejected: RejectedListing };

const REQUIRED_COLUMNS = ['subject_id', 'study_id', 'ecg_time', 'path'] as const;

/**
 * Streams record_list.csv one row at a time, so an 800,035-row list never sits in memory. A missing
 * column fails the whole run (the file is not a record list); a bad row is only rejected.
 */
export async function* readRecordList(csvPath: string): AsyncGenerator<ListingRow> {
  const lines = createInterface({
    input: createReadStream(csvPath, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let columns: Map<string, number> | undefined;
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    if (columns === undefined) {
      columns = new Map(cells.map((name, index) => [name.trim(), index]));
      const missing = REQUIRED_COLUMNS.filter((name) => !columns!.has(name));
      if (missing.length > 0) {
        throw new InputError(`record list lacks column(s) ${missing.join(', ')}`, {
          file: csvPath,
          line: 1,
          field: missing[0]!,
        });
      }
      continue;
    }
    yield parseRow(cells, columns, lineNumber);
  }
  if (columns === undefined) throw new InputError('record list is empty (no header row)', { file: csvPath });
}

function parseRow(cells: string[], columns: Map<string, number>, line: number): ListingRow {
  const cell = (name: string) => (cells[columns.get(name)!] ?? '').trim();
  const path = cell('path');
  const subjectId = parseId(cell('subject_id'));
  const studyId = parseId(cell('study_id'));
  const reject = (field: string, reason: string): ListingRow => ({
    ok: false,
    rejected: {
      line,
      path,
      field,
      reason,
      ...(studyId === undefined ? {} : { studyId }),
      ...(subjectId === undefined ? {} : { subjectId }),
    },
  });
  if (cells.length !== columns.size) {
    // A shifted row would put another column's value in a field: it is refused whole, not truncated.
    return reject('columns', `row has ${cells.length} cells, the header has ${columns.size} columns`);
  }
  if (studyId === undefined)
    return reject('study_id', `expected a positive integer, got ${JSON.stringify(cell('study_id'))}`);
  if (subjectId === undefined) {
    return reject('subject_id', `expected a positive integer, got ${JSON.stringify(cell('subject_id'))}`);
  }
  const unsafe = unsafePathReason(path);
  if (unsafe !== undefined) return reject('path', unsafe);
  return { ok: true, record: { line, subjectId, studyId, ecgTime: cell('ecg_time'), path } };
}

function parseId(text: string): number | undefined {
  if (!/^\d{1,15}$/.test(text)) return undefined;
  const value = Number(text);
  return value > 0 ? value : undefined;
}

/** Why a listed path may not be followed, or undefined when it stays inside the source folder. */
export function unsafePathReason(path: string): string | undefined {
  if (path === '') return 'path is empty';
  if (isAbsolute(path) || /^[A-Za-z]:/.test(path) || path.startsWith('\\')) {
    return `path ${JSON.stringify(path)} is absolute; record_list.csv paths must be relative to the source`;
  }
  if (path.split(/[\\/]/).includes('..'))
    return `path ${JSON.stringify(path)} climbs out of the source with '..'`;
  if (path.includes('\0')) return 'path contains a NUL byte';
  return undefined;
}

/** Splits one CSV line (RFC 4180 quoting; record_list.csv itself never quotes, other exports might). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const cells: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      cells.push(current);
      current = '';
    } else current += char;
  }
  cells.push(current);
  return cells;
}
