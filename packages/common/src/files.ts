import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { sha256 } from './hashing.ts';

/**
 * Writes through a temporary sibling and renames it into place, so that readers (auditors querying
 * the warehouse while a pipeline runs) never see a half-written file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Runs `produce` against a temporary path and renames the result into place once it is complete. */
export async function produceFileAtomic<T>(
  path: string,
  produce: (tmpPath: string) => Promise<T>,
): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const result = await produce(tmp);
    await rename(tmp, path);
    return result;
  } catch (error) {
    await rm(tmp, { force: true, recursive: true });
    throw error;
  }
}

/**
 * Writes `data` to `path` only if no file is there yet: through a temporary sibling hard-linked into place,
 * which fails when another writer (another process) got there first. Returns whether this call created the
 * file; an existing file is left exactly as it is, so an artifact is added or reused, never rewritten.
 */
export async function writeFileOnce(path: string, data: string | Uint8Array): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await link(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Stores `data` at `path` once: if `path` already holds other bytes, beside it under a name carrying the
 * content's hash (`report.html` -> `report-<first 16 hex digits of its sha256>.html`). Returns the file that
 * holds `data`; the same bytes stored twice are one file, and no file is ever rewritten.
 */
export async function storeContentOnce(path: string, data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if ((await writeFileOnce(path, bytes)) || Buffer.from(bytes).equals(await readFile(path))) return path;
  const extension = extname(path);
  const named = join(dirname(path), `${basename(path, extension)}-${sha256(bytes).slice(0, 16)}${extension}`);
  // A file of that name holds these bytes unless the hash prefix collides, which 64 bits make negligible.
  await writeFileOnce(named, bytes);
  return named;
}
