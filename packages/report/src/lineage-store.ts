import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { DatasetRef, LineageEvent } from '@enecg/common';
import { InputError, warehouseLayout } from '@enecg/common';

/** A stored event with the file it came from. */
export interface StoredEvent extends LineageEvent {
  file: string;
}

/** Every lineage event, oldest first (ties broken by file name, which starts with the event time). */
export async function readLineageEvents(warehouse: string): Promise<StoredEvent[]> {
  const folder = warehouseLayout(warehouse).lineageEvents;
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const events = await Promise.all(
    names.map(async (name) => {
      const file = join(folder, name);
      const text = await readFile(file, 'utf8');
      let event: LineageEvent;
      try {
        event = JSON.parse(text) as LineageEvent;
      } catch (error) {
        throw new InputError(`not valid JSON (${(error as Error).message})`, { file });
      }
      for (const field of ['eventType', 'eventTime', 'run', 'job', 'inputs', 'outputs'] as const) {
        if (event[field] === undefined) throw new InputError('missing', { file, field });
      }
      return { ...event, facets: event.facets ?? {}, file };
    }),
  );
  return events.sort((a, b) => a.eventTime.localeCompare(b.eventTime) || a.file.localeCompare(b.file));
}

/** A dataset path as lineage compares it: relative to the warehouse when inside it, `/`-separated. */
export function normalizeDatasetPath(warehouse: string, path: string): string {
  const root = resolve(warehouse);
  const absolute = isAbsolute(path) ? path : join(root, path);
  const inside = relative(root, absolute);
  const chosen = inside.startsWith('..') || isAbsolute(inside) ? absolute : inside;
  return chosen.split(sep).join('/').replace(/\/+$/, '');
}

/** Where a dataset path lives on this machine. */
export function datasetLocation(warehouse: string, path: string): string {
  return isAbsolute(path) ? path : join(resolve(warehouse), path);
}

/** `outer` is `inner` or a folder above it. */
export function pathContains(outer: string, inner: string): boolean {
  return outer === inner || inner.startsWith(`${outer}/`);
}

/**
 * Whether `written` (an output) is, or is part of, or holds `wanted` (an input). The same path with a
 * different hash is another version of the dataset, not this one.
 */
export function sameData(warehouse: string, written: DatasetRef, wanted: DatasetRef): boolean {
  const a = normalizeDatasetPath(warehouse, written.path);
  const b = normalizeDatasetPath(warehouse, wanted.path);
  if (a === b)
    return written.sha256 === undefined || wanted.sha256 === undefined || written.sha256 === wanted.sha256;
  return pathContains(a, b) || pathContains(b, a);
}

export function completed(events: StoredEvent[]): StoredEvent[] {
  return events.filter((event) => event.eventType === 'COMPLETE');
}

/** The runs of `runId` itself and of every run below it (a pipeline run's stages). */
export function runFamily(events: StoredEvent[], runId: string): Set<string> {
  const family = new Set([runId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const event of events) {
      const parent = event.run.parentRunId;
      if (parent !== undefined && family.has(parent) && !family.has(event.run.runId)) {
        family.add(event.run.runId);
        grew = true;
      }
    }
  }
  return family;
}
