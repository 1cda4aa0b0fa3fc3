import { createReadStream } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { InputError } from '@enecg/common';

/** Where a source table lives: the MIMIC-IV-ECG folder (`--source`) or MIMIC-IV's hosp folder (`--hosp`). */
export type SourceFolder = 'source' | 'hosp' | 'notes';

export interface SourceTable {
  /** Table name; the file is `<name>.csv` or `<name>.csv.gz` in its folder. */
  name: string;
  folder: SourceFolder;
  /** An optional table that is absent is read as an empty one (the rules then leave its labels missing). */
  optional: boolean;
  /** Columns the label rules read; the header must name each of them once. */
  columns: readonly string[];
}

const REPORT_COLUMNS = Array.from({ length: 18 }, (_, i) => `report_${i}`);

export const SOURCE_TABLES = [
  { name: 'record_list', folder: 'source', optional: false, columns: ['subject_id', 'study_id', 'ecg_time'] },
  {
    name: 'machine_measurements',
    folder: 'source',
    optional: true,
    columns: ['subject_id', 'study_id', 'ecg_time', ...REPORT_COLUMNS, 'rr_interval'],
  },
  {
    name: 'waveform_note_links',
    folder: 'source',
    optional: true,
    columns: ['subject_id', 'study_id', 'note_id'],
  },
  { name: 'notes', folder: 'notes', optional: true, columns: ['note_id', 'text'] },
  {
    name: 'patients',
    folder: 'hosp',
    optional: false,
    columns: ['subject_id', 'gender', 'anchor_age', 'anchor_year'],
  },
  {
    name: 'labevents',
    folder: 'hosp',
    optional: false,
    columns: [
      'subject_id',
      'itemid',
      'charttime',
      'value',
      'valuenum',
      'ref_range_lower',
      'ref_range_upper',
      'flag',
    ],
  },
  { name: 'd_labitems', folder: 'hosp', optional: false, columns: ['itemid', 'label'] },
] as const satisfies readonly SourceTable[];

export type SourceName = (typeof SOURCE_TABLES)[number]['name'];

export interface ResolvedSource {
  table: SourceTable;
  /** The file read, or, for an absent optional table, a header-only stand-in. */
  path: string;
  present: boolean;
}

export interface SourceFolders {
  source: string;
  hosp: string;
  /** A free-text note table (CSV/CSV.GZ with note_id and text), linked through waveform_note_links. */
  notes?: string;
}

/**
 * Finds every source file and checks its header before any SQL runs, so that a wrong file fails with
 * its name and the missing column rather than as a DuckDB binder error half-way through.
 */
export async function resolveSources(
  folders: SourceFolders,
  scratchFolder: string,
): Promise<Map<SourceName, ResolvedSource>> {
  const resolved = new Map<SourceName, ResolvedSource>();
  for (const table of SOURCE_TABLES) {
    const path = await locate(table, folders);
    if (path !== undefined) {
      checkHeader(path, await readHeader(path), table.columns);
      resolved.set(table.name, { table, path, present: true });
      continue;
    }
    if (!table.optional) {
      const folder = folders[table.folder as 'source' | 'hosp'];
      throw new InputError(
        `required table ${table.name} not found (looked for ${table.name}.csv and .csv.gz)`,
        {
          file: join(folder, `${table.name}.csv`),
        },
      );
    }
    const standIn = join(scratchFolder, `${table.name}.csv`);
    await writeFile(standIn, `${table.columns.join(',')}\n`);
    resolved.set(table.name, { table, path: standIn, present: false });
  }
  if (resolved.get('notes')!.present && !resolved.get('waveform_note_links')!.present) {
    throw new InputError('a note table needs waveform_note_links.csv to link notes to ECGs', {
      file: join(folders.source, 'waveform_note_links.csv'),
    });
  }
  return resolved;
}

/**
 * The files a derivation over `folders` would read, without checking them: what a caller hashes to decide
 * whether the labels must be derived again (unrelated tables beside them do not count).
 */
export async function labelSourceFiles(folders: SourceFolders): Promise<string[]> {
  const files: string[] = [];
  for (const table of SOURCE_TABLES) {
    const path = await locate(table, folders);
    if (path !== undefined) files.push(path);
  }
  return files;
}

async function locate(table: SourceTable, folders: SourceFolders): Promise<string | undefined> {
  if (table.folder === 'notes') return folders.notes;
  for (const suffix of ['.csv', '.csv.gz']) {
    const path = join(folders[table.folder], `${table.name}${suffix}`);
    if (await exists(path)) return path;
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The column names of a CSV or gzip-compressed CSV file (its first line, RFC 4180 quoting). */
export async function readHeader(path: string): Promise<string[]> {
  const raw = createReadStream(path);
  const stream = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let text = '';
  try {
    for await (const chunk of stream) {
      text += (chunk as Buffer).toString('utf8');
      const end = firstLineEnd(text);
      if (end >= 0) {
        text = text.slice(0, end);
        break;
      }
    }
  } catch (error) {
    throw new InputError(`cannot read the header: ${(error as Error).message}`, { file: path });
  } finally {
    raw.destroy();
  }
  if (text.trim() === '') throw new InputError('empty file: no header line', { file: path, line: 1 });
  return splitCsvLine(text.replace(/^\uFEFF/, ''));
}

/** Index of the first line break outside quotes, or -1 when the line is not complete yet. */
function firstLineEnd(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) return i;
  }
  return -1;
}

function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

export function checkHeader(file: string, header: readonly string[], required: readonly string[]): void {
  const seen = new Set<string>();
  for (const [index, name] of header.entries()) {
    if (name.trim() === '') {
      throw new InputError(`column ${index + 1} of the header has no name`, { file, line: 1 });
    }
    if (seen.has(name))
      throw new InputError('column named twice in the header', { file, line: 1, field: name });
    seen.add(name);
  }
  for (const column of required) {
    if (!seen.has(column)) {
      throw new InputError(`required column missing from the header (${header.join(',')})`, {
        file,
        line: 1,
        field: column,
      });
    }
  }
}
