import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetRef, EcgRecord } from '@enecg/common';
import {
  appendLineageEvent,
  ConfigError,
  codeVersion,
  describeDataset,
  InputError,
  IntegrityError,
  newRunId,
  produceFileAtomic,
  sha256File,
  warehouseLayout,
  withDuckDB,
  writeFileAtomic,
} from '@enecg/common';
import type { BackendChoice, BackendInfo } from '../backend/index.ts';
import { activeBackend, backendLabel, parseBackendChoice, selectBackend } from '../backend/index.ts';
import { createExpert } from '../experts/registry.ts';
import type { Expert } from '../experts/types.ts';
import { cachedStudyIds, type FeatureRows, writeFeaturePart } from './parquet.ts';
import {
  type FeatureSetManifest,
  featureSetDir,
  featureSetKey,
  listFeatureParts,
  MANIFEST_FILE,
  readManifest,
} from './store.ts';

export const DEFAULT_SEED = 42;
export const DEFAULT_BATCH_SIZE = 16;
/** Embedding values per Parquet part (about 32 MB of float32): bounds memory whatever the expert. */
const PART_VALUES = 8_000_000;
/** Quarantined records listed in the summary; all are counted and all go to the lineage event. */
const SUMMARY_QUARANTINE_LIMIT = 20;

export interface FeatureProgress {
  /** Records read so far (the source may leave cached ones out). */
  seen: number;
  computed: number;
  skipped: number;
  quarantined: number;
}

export interface CacheFeaturesOptions {
  warehouse: string;
  expert: string;
  expertOptions?: { weightsPath?: string; seed?: number; config?: Record<string, unknown> };
  batchSize?: number;
  backend?: BackendChoice;
  onProgress?: (progress: FeatureProgress) => void;
  runId?: string;
  /** Rows per Parquet part; default keeps each part near 32 MB of embeddings. */
  partRows?: number;
}

export interface FeatureSummary {
  runId: string;
  expert: string;
  featureSetId: string;
  dir: string;
  weightsId: string;
  preprocessingHash: string;
  embeddingSize: number;
  backend: BackendInfo;
  seen: number;
  computed: number;
  /** Already cached before this run. */
  skipped: number;
  quarantined: number;
  quarantinedRecords: Array<{ studyId: number; reason: string }>;
  /** Parts written by this run. */
  parts: Array<{ path: string; sha256: string; rows: number }>;
  /** Rows in the feature set after this run. */
  totalRows: number;
}

/** Opens the record stream, told which study ids are cached already so that it may skip reading them. */
export type RecordSource = (
  cached: ReadonlySet<number>,
) => AsyncIterable<EcgRecord[]> | Promise<AsyncIterable<EcgRecord[]>>;

function validate(options: CacheFeaturesOptions): Required<Pick<CacheFeaturesOptions, 'batchSize'>> & {
  backend: BackendChoice;
  seed: number;
} {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 4096) {
    throw new ConfigError(`${batchSize} is not an integer in 1..4096`, 'batchSize');
  }
  const seed = options.expertOptions?.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0)
    throw new ConfigError(`${seed} is not a non-negative integer`, 'seed');
  if (options.partRows !== undefined && (!Number.isInteger(options.partRows) || options.partRows < 1)) {
    throw new ConfigError(`${options.partRows} is not a positive integer`, 'partRows');
  }
  if (typeof options.warehouse !== 'string' || options.warehouse === '') {
    throw new ConfigError('must be a folder path', 'warehouse');
  }
  return { batchSize, seed, backend: parseBackendChoice(options.backend ?? 'auto') };
}

/**
 * Runs a frozen expert over every record `openRecords` yields and caches the embeddings (see store.ts
 * for the layout). Records cached already are skipped; parts are renamed into place only when complete,
 * so a crashed run leaves whole parts behind and the next run resumes after them. A record the expert
 * cannot use (e.g. a missing lead) is quarantined and the run goes on.
 */
export async function cacheFeaturesFrom(
  openRecords: RecordSource,
  options: CacheFeaturesOptions,
): Promise<FeatureSummary> {
  const { batchSize, seed, backend: backendChoice } = validate(options);
  const runId = options.runId ?? newRunId();
  await selectBackend(backendChoice);
  const expertOptions = { ...options.expertOptions, seed };
  const expert = await createExpert(options.expert, expertOptions);
  try {
    const key = featureSetKey(expert.weightsId, expert.preprocessingHash);
    const dir = featureSetDir(options.warehouse, expert.name, key);
    const manifest: FeatureSetManifest = {
      featureSetId: `${expert.name}/${key}`,
      expert: expert.name,
      weightsId: expert.weightsId,
      preprocessingHash: expert.preprocessingHash,
      embeddingSize: expert.embeddingSize,
      expertOptions,
    };
    await prepareDir(dir, manifest);
    const partRows =
      options.partRows ?? Math.max(1, Math.min(4096, Math.floor(PART_VALUES / expert.embeddingSize)));
    const inputs: DatasetRef[] = [];
    const waveforms = warehouseLayout(options.warehouse).waveforms;
    if (existsSync(waveforms)) inputs.push(await describeDataset(options.warehouse, 'waveforms', waveforms));
    if (options.expertOptions?.weightsPath) {
      inputs.push(await describeDataset(options.warehouse, 'weights', options.expertOptions.weightsPath));
    }
    const facets = {
      codeVersion: await codeVersion(),
      seeds: { expert: seed },
      config: { expert: expert.name, ...expertOptions, batchSize },
      expert: expert.name,
      featureSetId: manifest.featureSetId,
      weightsId: expert.weightsId,
      preprocessingHash: expert.preprocessingHash,
      embeddingSize: expert.embeddingSize,
    };
    const job = { name: `features/${expert.name}` };
    await appendLineageEvent(options.warehouse, {
      eventType: 'START',
      eventTime: new Date().toISOString(),
      run: { runId },
      job,
      inputs,
      outputs: [],
      facets: { ...facets, ...backendFacets() },
    });
    try {
      const summary = await withDuckDB(async (connection) => {
        const existing = await listFeatureParts(dir);
        const cached = await cachedStudyIds(connection, existing);
        const state = new RunState(dir, existing.length, cached.size);
        const flush = async (rows: FeatureRows) => {
          state.parts.push(
            await writePart(connection, state.nextPartName(), rows, expert, manifest.featureSetId),
          );
        };
        const pending: FeatureRows = { studyIds: [], embeddings: [] };
        const seenThisRun = new Set<number>();
        for await (const batch of await openRecords(cached)) {
          const fresh: EcgRecord[] = [];
          for (const record of batch) {
            state.seen++;
            if (!cached.has(record.studyId) && !seenThisRun.has(record.studyId)) {
              seenThisRun.add(record.studyId);
              fresh.push(record);
            }
          }
          for (let start = 0; start < fresh.length; start += batchSize) {
            const slice = fresh.slice(start, start + batchSize);
            for (const [record, embedding] of await embedOrQuarantine(expert, slice, state.quarantined)) {
              pending.studyIds.push(record.studyId);
              pending.embeddings.push(embedding);
              state.computed++;
              if (pending.studyIds.length >= partRows) {
                await flush({
                  studyIds: pending.studyIds.splice(0),
                  embeddings: pending.embeddings.splice(0),
                });
              }
            }
          }
          options.onProgress?.(state.progress());
        }
        if (pending.studyIds.length > 0) await flush(pending);
        return {
          ...state.progress(),
          parts: state.parts,
          totalRows: cached.size + state.computed,
          quarantinedRecords: state.quarantined,
        };
      });
      const backend = activeBackend()!;
      await appendLineageEvent(options.warehouse, {
        eventType: 'COMPLETE',
        eventTime: new Date().toISOString(),
        run: { runId },
        job,
        inputs,
        outputs: await Promise.all(
          summary.parts.map((part) => describeDataset(options.warehouse, job.name, part.path, part.rows)),
        ),
        facets: {
          ...facets,
          ...backendFacets(),
          computed: summary.computed,
          skipped: summary.skipped,
          quarantined: summary.quarantinedRecords,
        },
      });
      return {
        runId,
        expert: expert.name,
        featureSetId: manifest.featureSetId,
        dir,
        weightsId: expert.weightsId,
        preprocessingHash: expert.preprocessingHash,
        embeddingSize: expert.embeddingSize,
        backend,
        seen: summary.seen,
        computed: summary.computed,
        skipped: summary.skipped,
        quarantined: summary.quarantined,
        quarantinedRecords: summary.quarantinedRecords.slice(0, SUMMARY_QUARANTINE_LIMIT),
        parts: summary.parts,
        totalRows: summary.totalRows,
      };
    } catch (error) {
      await appendLineageEvent(options.warehouse, {
        eventType: 'FAIL',
        eventTime: new Date().toISOString(),
        run: { runId },
        job,
        inputs,
        outputs: [],
        facets: { ...facets, ...backendFacets(), error: (error as Error).message },
      });
      throw error;
    }
  } finally {
    expert.dispose();
  }
}

/** The backend as the agreed string facet, with package, version and kernel fallbacks alongside. */
function backendFacets(): { backend: string; backendInfo: BackendInfo } {
  const info = activeBackend()!;
  return { backend: backendLabel(info)!, backendInfo: info };
}

class RunState {
  seen = 0;
  computed = 0;
  readonly quarantined: Array<{ studyId: number; reason: string }> = [];
  readonly parts: Array<{ path: string; sha256: string; rows: number }> = [];
  constructor(
    private readonly dir: string,
    private partCount: number,
    /** Records cached before this run: never recomputed, whether or not the source yields them again. */
    readonly skipped: number,
  ) {}

  nextPartName(): string {
    return join(this.dir, `part-${String(this.partCount++).padStart(6, '0')}.parquet`);
  }

  progress(): FeatureProgress {
    return {
      seen: this.seen,
      computed: this.computed,
      skipped: this.skipped,
      quarantined: this.quarantined.length,
    };
  }
}

/**
 * Embeds a batch; when the expert refuses it for a bad record, embeds record by record (features do not
 * depend on batch-mates, so the good records' embeddings are the same) and quarantines the bad ones.
 */
async function embedOrQuarantine(
  expert: Expert,
  batch: readonly EcgRecord[],
  quarantine: Array<{ studyId: number; reason: string }>,
): Promise<Array<[EcgRecord, Float32Array]>> {
  if (batch.length === 0) return [];
  try {
    const embeddings = await expert.embed(batch);
    return batch.map((record, i) => [record, embeddings[i]!]);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
  }
  const kept: Array<[EcgRecord, Float32Array]> = [];
  for (const record of batch) {
    try {
      kept.push([record, (await expert.embed([record]))[0]!]);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      quarantine.push({ studyId: record.studyId, reason: error.message });
    }
  }
  return kept;
}

async function writePart(
  connection: Parameters<typeof writeFeaturePart>[0],
  path: string,
  rows: FeatureRows,
  expert: Expert,
  featureSetId: string,
): Promise<{ path: string; sha256: string; rows: number }> {
  const backend = activeBackend()!;
  await produceFileAtomic(path, (tmp) =>
    writeFeaturePart(
      connection,
      tmp,
      rows,
      { expert: expert.name, weightsId: expert.weightsId, preprocessingHash: expert.preprocessingHash },
      {
        backend: backend.tfBackend,
        backend_package: `${backend.package}@${backend.version}`,
        fallback_kernels: (backend.fallbackKernels ?? []).join(','),
        feature_set: featureSetId,
      },
    ),
  );
  return { path, sha256: await sha256File(path), rows: rows.studyIds.length };
}

/** Creates the set's folder with its manifest, or checks an existing one; removes parts a crash left half-written. */
async function prepareDir(dir: string, manifest: FeatureSetManifest): Promise<void> {
  const found = await readManifest(dir);
  if (found === undefined) {
    await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  } else if (
    found.embeddingSize !== manifest.embeddingSize ||
    found.preprocessingHash !== manifest.preprocessingHash
  ) {
    throw new IntegrityError(
      `manifest says ${found.embeddingSize} values with preprocessing ${found.preprocessingHash}, the expert gives ${manifest.embeddingSize} with ${manifest.preprocessingHash}`,
      join(dir, MANIFEST_FILE),
    );
  }
  for (const name of await readdir(dir)) {
    // A single writer per feature set is assumed (one activity per expert): temporaries are leftovers.
    if (name.includes('.tmp-') && (await stat(join(dir, name))).isFile())
      await rm(join(dir, name), { force: true });
  }
}
