import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashObject, warehouseLayout, writeFileAtomic } from '@enecg/common';

/** What a cached stage returns: its own summary, plus whether it was computed now or reused. */
export type Cached<T> = T & { cache: { key: string; hit: boolean } };

/** Everything that determines a stage's outputs; equal keys mean equal outputs. */
export interface StageKey {
  stage: string;
  /** Content hashes of the stage's inputs (files, upstream artifacts). */
  inputs: Record<string, unknown>;
  /** The validated stage configuration, seeds included. */
  config: unknown;
  /** Git commit and lockfile hash of the code that runs the stage. */
  codeVersion: unknown;
}

interface CacheEntry<T> {
  key: string;
  summary: T;
  /** Files the summary names; a hit requires them all to still exist. */
  outputs: string[];
}

/**
 * Content-addressed stage caching: when a completed run of the same stage had the same key and its outputs
 * are still there, its summary is returned instead of running the stage again.
 */
export async function cachedStage<T extends object>(
  warehouse: string,
  key: StageKey,
  run: () => Promise<{ summary: T; outputs: string[] }>,
): Promise<Cached<T>> {
  const digest = hashObject(key);
  const entryPath = join(warehouseLayout(warehouse).root, 'stage-cache', key.stage, `${digest}.json`);
  if (existsSync(entryPath)) {
    const entry = JSON.parse(await readFile(entryPath, 'utf8')) as CacheEntry<T>;
    if (entry.outputs.every((file) => existsSync(file))) {
      return { ...entry.summary, cache: { key: digest, hit: true } };
    }
  }
  const { summary, outputs } = await run();
  const entry: CacheEntry<T> = { key: digest, summary, outputs };
  await writeFileAtomic(entryPath, `${JSON.stringify(entry)}\n`);
  return { ...summary, cache: { key: digest, hit: false } };
}
