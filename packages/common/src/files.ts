import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

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
