import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IntegrityError } from './errors.ts';
import { sha256, sha256File } from './hashing.ts';
import { warehouseLayout } from './warehouse.ts';

/** A dataset a job read or wrote, identified by path and content hash. */
export interface DatasetRef {
  /** Logical name, e.g. `records`, `labels`, `features/dlinear`. */
  name: string;
  /** A file or a folder. Stored relative to the warehouse when inside it, else absolute. */
  path: string;
  /** Of the file's bytes, or for a folder of its listing (see `datasetDigest`). */
  sha256?: string;
  rows?: number;
  bytes?: number;
}

/** Which code produced an output: enough to check out and rebuild the exact program. */
export interface CodeVersion {
  /** `git rev-parse HEAD`, or null outside a git checkout. */
  gitCommit: string | null;
  /** Tracked files differ from the commit, so the commit alone does not reproduce the code. */
  gitDirty: boolean | null;
  /** Pins every third-party package version. */
  lockfileSha256: string | null;
  node: string;
}

/** Label rules are stored verbatim so that an auditor can rerun them. */
export interface LabelRulesFacet {
  version: string;
  sha256: string;
  sql: string;
}

/** Facets with an agreed meaning; stages may add their own keys. */
export interface LineageFacets {
  /** Filled in by `appendLineageEvent` when the stage does not set it. */
  codeVersion?: CodeVersion;
  config?: unknown;
  seed?: number;
  seeds?: Record<string, number>;
  /** A backend name, or a description of it (e.g. the TensorFlow.js backend and its flags). */
  backend?: unknown;
  labelRules?: LabelRulesFacet;
  [key: string]: unknown;
}

/**
 * One lineage event in the OpenLineage spirit: a run of a job read some datasets and wrote others.
 * Events are append-only files; nothing is ever updated in place.
 */
export interface LineageEvent {
  eventType: 'START' | 'COMPLETE' | 'FAIL';
  eventTime: string;
  /** `parentRunId` links a stage's run to the pipeline run; `nominalTime` is a schedule's slot. */
  run: { runId: string; parentRunId?: string; nominalTime?: string };
  job: { name: string };
  inputs: DatasetRef[];
  outputs: DatasetRef[];
  /** Config, seeds, code version, backend, rule text: whatever explains how the outputs were made. */
  facets: LineageFacets;
}

/** The newest event of a warehouse's chain: anyone holding it can later tell a rewritten or cut history. */
export interface LineageHead {
  sequence: number;
  /** sha256 of the event file's bytes. */
  sha256: string;
}

/** How an event is stored: its place in the warehouse's hash chain, then the event. */
export interface ChainedLineageEvent extends LineageEvent {
  /** 1 for the warehouse's first event, then one more per event, no gaps. */
  sequence: number;
  /** sha256 of the bytes of event `sequence - 1`; null for the first. */
  previousSha256: string | null;
}

const SEQUENCE_DIGITS = 12;
const EVENT_FILE = /^(\d{12})\.json$/;

/** The file name of an event: its sequence number, so that two appenders cannot both take one place. */
export function lineageEventFileName(sequence: number): string {
  return `${String(sequence).padStart(SEQUENCE_DIGITS, '0')}.json`;
}

/** The sequence number a file name holds, or null for a file that is not a chained event. */
export function lineageEventSequence(fileName: string): number | null {
  const match = EVENT_FILE.exec(fileName);
  return match ? Number(match[1]) : null;
}

/** The head of the chain in `folder`, read from disk: the highest sequence number and its hash. */
async function readHead(folder: string): Promise<LineageHead | null> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let sequence = 0;
  for (const name of names) sequence = Math.max(sequence, lineageEventSequence(name) ?? 0);
  if (sequence === 0) return null;
  return { sequence, sha256: await sha256File(join(folder, lineageEventFileName(sequence))) };
}

/** The current head of a warehouse's lineage chain, or null before its first event. */
export function readLineageHead(warehouse: string): Promise<LineageHead | null> {
  return readHead(warehouseLayout(warehouse).lineageEvents);
}

/** The chain position of an event file `appendLineageEvent` returned. */
export async function lineageEventHead(file: string): Promise<LineageHead> {
  const sequence = lineageEventSequence(basename(file));
  if (sequence === null) throw new IntegrityError('not a chained lineage event file', file);
  return { sequence, sha256: await sha256File(file) };
}

/** The last head this process appended per events folder, so that an append need not list the folder. */
const knownHeads = new Map<string, LineageHead>();

/** The remembered head while its file still holds it (the folder may have been removed since), else a scan. */
async function currentHead(folder: string): Promise<LineageHead | null> {
  const known = knownHeads.get(folder);
  if (known !== undefined) {
    try {
      if (sha256(await readFile(join(folder, lineageEventFileName(known.sequence)))) === known.sha256)
        return known;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return readHead(folder);
}

/**
 * A path (absolute or relative to the current directory) as lineage and manifests name it: relative to the
 * warehouse and `/`-separated when inside it, else absolute.
 */
export function warehousePath(warehouse: string, path: string): string {
  const absolute = resolve(path);
  const inside = relative(resolve(warehouse), absolute);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return absolute;
  return inside.split(sep).join('/');
}

/**
 * A ref as lineage stores it: a path inside the warehouse relative to the warehouse (so that a copied or
 * moved warehouse verifies against its own files), with its sha256 and size measured now when the stage
 * did not give them. Paths outside the warehouse (raw inputs) stay absolute.
 */
async function storedRef(root: string, ref: DatasetRef): Promise<DatasetRef> {
  const path = warehousePath(root, ref.path);
  if (isAbsolute(path)) return { ...ref, path };
  const stored: DatasetRef = { ...ref, path };
  const absolute = join(root, path);
  if (stored.sha256 === undefined || stored.bytes === undefined) {
    const digest = await datasetDigest(absolute);
    stored.sha256 ??= digest.sha256;
    stored.bytes ??= digest.bytes;
  }
  return stored;
}

/**
 * Appends one event to the warehouse's hash chain and returns its file. Dataset paths are absolute or
 * relative to the current directory, like any file path; they are stored relative to the warehouse.
 * Appenders in several processes serialize on the file name: an event is written under a temporary name
 * and hard-linked to `<sequence>.json`, which fails if another appender took that place first; then the
 * head is read again and the event re-chained behind it.
 */
export async function appendLineageEvent(warehouse: string, event: LineageEvent): Promise<string> {
  const root = resolve(warehouse);
  const folder = warehouseLayout(root).lineageEvents;
  const [inputs, outputs] = await Promise.all([
    Promise.all(event.inputs.map((ref) => storedRef(root, ref))),
    Promise.all(event.outputs.map((ref) => storedRef(root, ref))),
  ]);
  const body = { ...event, inputs, outputs, facets: { codeVersion: await codeVersion(), ...event.facets } };
  await mkdir(folder, { recursive: true });
  let head = await currentHead(folder);
  for (let attempt = 0; ; attempt++) {
    const sequence = (head?.sequence ?? 0) + 1;
    const stored: ChainedLineageEvent = { sequence, previousSha256: head?.sha256 ?? null, ...body };
    const text = `${JSON.stringify(stored)}\n`;
    const file = join(folder, lineageEventFileName(sequence));
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, text);
    try {
      await link(tmp, file);
      knownHeads.set(folder, { sequence, sha256: sha256(text) });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10_000) throw error;
      head = await readHead(folder);
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** Marks when a stage run began, so that its duration is on record before it completes (or fails). */
export function appendStartEvent(
  warehouse: string,
  run: LineageEvent['run'],
  job: string,
  facets: LineageFacets = {},
): Promise<string> {
  return appendLineageEvent(warehouse, {
    eventType: 'START',
    eventTime: new Date().toISOString(),
    run,
    job: { name: job },
    inputs: [],
    outputs: [],
    facets,
  });
}

export function newRunId(): string {
  return randomUUID();
}

/** Where `produceFileAtomic`/`writeFileAtomic` keep a file until it is complete; never part of a dataset. */
function isTemporaryFile(name: string): boolean {
  return name.includes('.tmp-');
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && !isTemporaryFile(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Content hash and size of a file, or of a folder: the sha256 of its sorted listing of
 * `relative path, file sha256, bytes` lines, so renaming, adding, removing or altering any file changes it.
 */
export async function datasetDigest(path: string): Promise<{ sha256: string; bytes: number; files: number }> {
  const info = await stat(path);
  if (info.isFile()) return { sha256: await sha256File(path), bytes: info.size, files: 1 };
  let listing = '';
  let bytes = 0;
  const files = await listFiles(path);
  for (const file of files) {
    const size = (await stat(file)).size;
    bytes += size;
    listing += `${relative(path, file).split(sep).join('/')}\t${await sha256File(file)}\t${size}\n`;
  }
  return { sha256: sha256(listing), bytes, files: files.length };
}

/** A `DatasetRef` with the hash and size measured now; `appendLineageEvent` stores its path relative to the warehouse. */
export async function describeDataset(name: string, path: string, rows?: number): Promise<DatasetRef> {
  const digest = await datasetDigest(path);
  const ref: DatasetRef = { name, path: resolve(path), sha256: digest.sha256, bytes: digest.bytes };
  if (rows !== undefined) ref.rows = rows;
  return ref;
}

const run = promisify(execFile);
let cachedCodeVersion: Promise<CodeVersion> | undefined;

/** The repository this module was loaded from: the folder holding the workspace's package-lock.json. */
function repositoryRoot(): string | null {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(folder, 'package-lock.json'))) return folder;
    const parent = dirname(folder);
    if (parent === folder) return null;
    folder = parent;
  }
}

async function git(root: string, args: string[]): Promise<string | null> {
  try {
    return (await run('git', args, { cwd: root })).stdout.trim();
  } catch {
    return null;
  }
}

async function measureCodeVersion(): Promise<CodeVersion> {
  const root = repositoryRoot();
  if (root === null) return { gitCommit: null, gitDirty: null, lockfileSha256: null, node: process.version };
  const [commit, status, lockfile] = await Promise.all([
    git(root, ['rev-parse', 'HEAD']),
    git(root, ['status', '--porcelain', '--untracked-files=no']),
    sha256File(join(root, 'package-lock.json')),
  ]);
  return {
    gitCommit: commit,
    gitDirty: status === null ? null : status.length > 0,
    lockfileSha256: lockfile,
    node: process.version,
  };
}

/** The running code's version, for the `codeVersion` facet; measured once per process. */
export function codeVersion(): Promise<CodeVersion> {
  cachedCodeVersion ??= measureCodeVersion();
  return cachedCodeVersion;
}
