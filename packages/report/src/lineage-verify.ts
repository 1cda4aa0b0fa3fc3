import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  type ChainedLineageEvent,
  type DatasetRef,
  datasetDigest,
  type LineageHead,
  lineageEventFileName,
  lineageEventSequence,
  sha256,
  warehouseLayout,
} from '@enecg/common';
import { pathContains } from './lineage-store.ts';

/**
 * Warehouse paths that are not data a run vouches for: the log itself, the stage cache (a memo of
 * summaries, never read as data) and the regenerated catalog SQL. Every other file must be named by an event.
 */
export const UNTRACKED_WAREHOUSE_PATHS: readonly string[] = [
  'lineage',
  'stage-cache',
  'catalog.sql',
  // The lake's own bookkeeping: its catalog (and SQLite's journal), the pointer to it, the commit gates.
  'catalog.sqlite',
  'catalog.sqlite-journal',
  'catalog.sqlite-wal',
  'catalog.sqlite-shm',
  'catalog.lock',
  'lake.json',
  'data/main/commit_gates',
  // One row per labels run (which label set it produced or reused): a log like the lineage itself.
  'data/main/label_derivations',
];

/** One thing that does not match the record; `event` and `file` are null where none is concerned. */
export interface VerifyProblem {
  kind: 'chain' | 'head' | 'changed' | 'missing' | 'orphan';
  /** The event file, with the job and run it records when it could be read. */
  event: string | null;
  /** The data file or folder, relative to the warehouse when inside it. */
  file: string | null;
  detail: string;
}

export interface VerifyAnswer {
  events: number;
  head: LineageHead | null;
  /** Files and folders whose content was compared with the hash and size the newest event recorded. */
  checked: number;
  /** Files in the warehouse's data folders, each of which some event must name. */
  dataFiles: number;
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  /** A head kept outside the warehouse (a workflow result, a ticket): the chain must still contain it. */
  expectedHead?: LineageHead;
}

/** One line per problem: event, file, what differs. */
export function formatProblem(problem: VerifyProblem): string {
  return [problem.event, problem.file, problem.detail].filter((part) => part !== null).join(': ');
}

interface ReadEvent {
  name: string;
  sequence: number | null;
  bytes: Buffer;
  event: ChainedLineageEvent | null;
}

function describeEvent(read: ReadEvent): string {
  const { event } = read;
  return event?.job?.name && event.run?.runId
    ? `event ${read.name} (${event.job.name} run ${event.run.runId})`
    : `event ${read.name}`;
}

const short = (hash: string | null | undefined) => (hash ? hash.slice(0, 16) : String(hash));

async function readEventFiles(folder: string): Promise<ReadEvent[]> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => !name.includes('.tmp-')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(join(folder, name));
      let event: ChainedLineageEvent | null = null;
      try {
        const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
        if (parsed !== null && typeof parsed === 'object') event = parsed as ChainedLineageEvent;
      } catch {
        // Reported by checkChain.
      }
      return { name, sequence: lineageEventSequence(name), bytes, event };
    }),
  );
}

/** Every event in place, numbered in order without gaps, each naming its predecessor's hash. */
function checkChain(events: ReadEvent[], problems: VerifyProblem[]): Map<number, ReadEvent> {
  const bySequence = new Map<number, ReadEvent>();
  for (const read of events) {
    if (read.sequence === null) {
      problems.push({
        kind: 'chain',
        event: `event ${read.name}`,
        file: null,
        detail: 'not a chained event file (events are named <12-digit sequence>.json)',
      });
    } else bySequence.set(read.sequence, read);
  }
  const last = Math.max(0, ...bySequence.keys());
  for (let sequence = 1; sequence <= last; sequence++) {
    const read = bySequence.get(sequence);
    if (read === undefined) {
      problems.push({
        kind: 'chain',
        event: `event ${lineageEventFileName(sequence)}`,
        file: null,
        detail: `missing: the chain holds events up to ${last}, so this one was deleted or renamed`,
      });
      continue;
    }
    const at = describeEvent(read);
    const { event } = read;
    if (event === null) {
      problems.push({ kind: 'chain', event: at, file: null, detail: 'not valid JSON' });
      continue;
    }
    for (const field of ['eventType', 'eventTime', 'run', 'job', 'inputs', 'outputs'] as const) {
      if (event[field] === undefined)
        problems.push({ kind: 'chain', event: at, file: null, detail: `field ${field} is missing` });
    }
    if (event.sequence !== sequence) {
      problems.push({
        kind: 'chain',
        event: at,
        file: null,
        detail: `records sequence ${event.sequence} but is stored as ${sequence}: events were moved or reordered`,
      });
    }
    const previous = bySequence.get(sequence - 1);
    const expected = sequence === 1 ? null : previous ? sha256(previous.bytes) : undefined;
    if (expected !== undefined && event.previousSha256 !== expected) {
      problems.push({
        kind: 'chain',
        event: at,
        file: null,
        detail:
          sequence === 1
            ? `previousSha256 is ${short(event.previousSha256)} but the first event has no predecessor: events were inserted before it or removed`
            : `previousSha256 ${short(event.previousSha256)} is not the sha256 of event ${lineageEventFileName(sequence - 1)} (${short(expected)}): that event was edited, inserted or reordered`,
      });
    }
  }
  return bySequence;
}

function checkHead(
  bySequence: Map<number, ReadEvent>,
  head: LineageHead,
  source: string,
  file: string | null,
  problems: VerifyProblem[],
): void {
  const read = bySequence.get(head.sequence);
  if (read === undefined) {
    problems.push({
      kind: 'head',
      event: `event ${lineageEventFileName(head.sequence)}`,
      file,
      detail: `${source} names this event (sha256 ${short(head.sha256)}) but it is gone: history was cut`,
    });
    return;
  }
  const actual = sha256(read.bytes);
  if (actual !== head.sha256) {
    problems.push({
      kind: 'head',
      event: describeEvent(read),
      file,
      detail: `${source} recorded sha256 ${short(head.sha256)}, the event now has ${short(actual)}: history was rewritten`,
    });
  }
}

async function modelManifestHeads(modelsFolder: string): Promise<Array<{ file: string; head: LineageHead }>> {
  let names: string[];
  try {
    names = (await readdir(modelsFolder, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
  const heads: Array<{ file: string; head: LineageHead }> = [];
  for (const name of names) {
    let manifest: { lineageHead?: LineageHead | null };
    try {
      manifest = JSON.parse(await readFile(join(modelsFolder, name, 'model.json'), 'utf8'));
    } catch {
      continue; // A missing or unreadable manifest is reported by the file checks.
    }
    if (manifest.lineageHead) heads.push({ file: `models/${name}/model.json`, head: manifest.lineageHead });
  }
  return heads;
}

/** The newest recorded content per output path, in chain order (a later run may rewrite a path). */
function latestOutputs(events: ReadEvent[]): Map<string, { ref: DatasetRef; at: string }> {
  const ordered = events
    .filter((read) => read.event?.eventType === 'COMPLETE' && Array.isArray(read.event.outputs))
    .sort((a, b) => (a.sequence ?? 0) - (b.sequence ?? 0) || a.name.localeCompare(b.name));
  const latest = new Map<string, { ref: DatasetRef; at: string }>();
  for (const read of ordered) {
    for (const ref of read.event!.outputs) {
      latest.set(ref.path.replace(/\/+$/, ''), { ref, at: describeEvent(read) });
    }
  }
  return latest;
}

async function checkFiles(
  root: string,
  latest: Map<string, { ref: DatasetRef; at: string }>,
  problems: VerifyProblem[],
): Promise<number> {
  let checked = 0;
  for (const [path, { ref, at }] of [...latest].sort(([a], [b]) => a.localeCompare(b))) {
    checked++;
    const problem = (kind: VerifyProblem['kind'], detail: string) =>
      problems.push({ kind, event: at, file: path, detail });
    if (ref.sha256 === undefined) {
      problem('changed', 'recorded without a sha256, so its content cannot be checked');
      continue;
    }
    let digest: { sha256: string; bytes: number };
    try {
      digest = await datasetDigest(isAbsolute(path) ? path : join(root, path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      problem('missing', `recorded with sha256 ${short(ref.sha256)}, the file is gone`);
      continue;
    }
    const differences: string[] = [];
    if (digest.sha256 !== ref.sha256)
      differences.push(`sha256 recorded ${short(ref.sha256)}, now ${short(digest.sha256)}`);
    if (ref.bytes !== undefined && digest.bytes !== ref.bytes)
      differences.push(`size recorded ${ref.bytes} bytes, now ${digest.bytes}`);
    if (differences.length > 0) problem('changed', differences.join('; '));
  }
  return checked;
}

async function dataFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.includes('.tmp-'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((path) => !UNTRACKED_WAREHOUSE_PATHS.some((untracked) => pathContains(untracked, path)))
    .sort();
}

/**
 * Checks a warehouse against its lineage: the hash chain of events, the heads stored in model manifests (and
 * one kept elsewhere), the content and size of every file or folder the newest event recorded, and that every
 * data file in the warehouse is named by an event. Paths inside the warehouse are relative to it, so a copied
 * or moved warehouse is checked against its own files.
 */
export async function lineageVerify(warehouse: string, options: VerifyOptions = {}): Promise<VerifyAnswer> {
  const root = resolve(warehouse);
  const layout = warehouseLayout(root);
  const problems: VerifyProblem[] = [];
  const events = await readEventFiles(layout.lineageEvents);
  const bySequence = checkChain(events, problems);
  const last = Math.max(0, ...bySequence.keys());
  const head =
    last > 0 && bySequence.has(last) ? { sequence: last, sha256: sha256(bySequence.get(last)!.bytes) } : null;
  for (const { file, head: recorded } of await modelManifestHeads(layout.models)) {
    checkHead(bySequence, recorded, 'the model manifest', file, problems);
  }
  if (options.expectedHead) checkHead(bySequence, options.expectedHead, 'the expected head', null, problems);
  const latest = latestOutputs(events);
  const checked = await checkFiles(root, latest, problems);
  const files = await dataFiles(root);
  for (const file of files) {
    const folders = file.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/'));
    if (!folders.some((path) => latest.has(path))) {
      problems.push({ kind: 'orphan', event: null, file, detail: 'a data file no lineage event names' });
    }
  }
  return { events: events.length, head, checked, dataFiles: files.length, problems };
}
