import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeFileAtomic } from './files.ts';
import { sha256, sha256File } from './hashing.ts';
import { warehouseLayout } from './warehouse.ts';

/** A dataset a job read or wrote, identified by path and content hash. */
export interface DatasetRef {
  /** Logical name, e.g. `records`, `labels`, `features/dlinear`. */
  name: string;
  /** A file or a folder; relative paths are relative to the warehouse root. */
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

/** Writes one event file; every event records the code version that produced it. */
export async function appendLineageEvent(warehouse: string, event: LineageEvent): Promise<string> {
  const stored: LineageEvent = { ...event, facets: { codeVersion: await codeVersion(), ...event.facets } };
  const stamp = event.eventTime.replaceAll(':', '-');
  const file = join(
    warehouseLayout(warehouse).lineageEvents,
    `${stamp}_${event.job.name.replaceAll('/', '_')}_${event.eventType}_${randomUUID()}.json`,
  );
  await writeFileAtomic(file, `${JSON.stringify(stored)}\n`);
  return file;
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

/**
 * A `DatasetRef` with the hash and size measured now. Paths under the warehouse are stored relative to it,
 * so that a copied or moved warehouse still verifies.
 */
export async function describeDataset(
  warehouse: string,
  name: string,
  path: string,
  rows?: number,
): Promise<DatasetRef> {
  const digest = await datasetDigest(path);
  const inside = relative(warehouse, path);
  const stored = isAbsolute(path) && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
  const ref: DatasetRef = {
    name,
    path: stored.split(sep).join('/'),
    sha256: digest.sha256,
    bytes: digest.bytes,
  };
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
