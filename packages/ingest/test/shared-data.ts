import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The read-only real data folder: ENECG_SHARED_DATA, else ../shared/data next to the repository. */
export const sharedData = process.env.ENECG_SHARED_DATA ?? join(repoRoot, '../shared/data');
export const hasSharedData = existsSync(join(sharedData, 'wfdb-python'));
export const missingSharedData = `real WFDB data not found at ${sharedData} (set ENECG_SHARED_DATA)`;

/** A whitespace-separated numeric table as printed by WFDB's rdsamp, gzipped or not, as rows. */
export async function readNumberTable(path: string): Promise<number[][]> {
  const raw = await readFile(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.trim().split(/\s+/).map(Number));
}
