import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from './files.ts';
import { warehouseLayout } from './warehouse.ts';

/** A dataset a job read or wrote, identified by path and content hash. */
export interface DatasetRef {
  /** Logical name, e.g. `records`, `labels`, `features/dlinear`. */
  name: string;
  path: string;
  sha256?: string;
  rows?: number;
  bytes?: number;
}

/**
 * One lineage event in the OpenLineage spirit: a run of a job read some datasets and wrote others.
 * Events are append-only files; nothing is ever updated in place.
 */
export interface LineageEvent {
  eventType: 'START' | 'COMPLETE' | 'FAIL';
  eventTime: string;
  run: { runId: string; parentRunId?: string; nominalTime?: string };
  job: { name: string };
  inputs: DatasetRef[];
  outputs: DatasetRef[];
  /** Config, seeds, code version, backend, rule text: whatever explains how the outputs were made. */
  facets: Record<string, unknown>;
}

export async function appendLineageEvent(warehouse: string, event: LineageEvent): Promise<string> {
  const stamp = event.eventTime.replaceAll(':', '-');
  const file = join(
    warehouseLayout(warehouse).lineageEvents,
    `${stamp}_${event.job.name.replaceAll('/', '_')}_${event.eventType}_${randomUUID()}.json`,
  );
  await writeFileAtomic(file, `${JSON.stringify(event)}\n`);
  return file;
}

export function newRunId(): string {
  return randomUUID();
}
