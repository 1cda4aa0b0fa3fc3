import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetRef, EcgRecord, LineageEvent } from '@enecg/common';
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
import { activeBackend, backendLabel, parseBackendChoice, withBackend } from '../backend/index.ts';
import { createExpert } from '../experts/registry.ts';
import type { Expert } from '../experts/types.ts';
import { cachedContentHashes, type FeatureRows, writeFeaturePart } from './parquet.ts';
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
  /** Records the run will read, `seen` included, where the source announced it (the warehouse source does). */
  total?: number;
  computed: number;
  /** Of `computed`: studies whose cached embedding was of content that has changed since. */
  recomputed: number;
  /** Cached studies kept as they are. */
  skipped: number;
  quarantined: number;
  /** Cached studies whose changed content the expert refused: their old embedding no longer counts, and they leave the set. */
  withdrawn: number;
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

/** The counts of the whole run, as in FeatureProgress. */
export interface FeatureSummary extends FeatureProgress {
  runId: string;
  expert: string;
  featureSetId: string;
  dir: string;
  weightsId: string;
  preprocessingHash: string;
  embeddingSize: number;
  backend: BackendInfo;
  quarantinedRecords: Array<{ studyId: number; reason: string }>;
  /** Parts written by this run. */
  parts: Array<{ path: string; sha256: string; rows: number }>;
  /** Rows in the feature set after this run. */
  totalRows: number;
}

/**
 * A record as a source yields it, with the hash of its content where the source knows one (ingest's
 * content sha256 of the WFDB files); without it the hash of the record's values is used.
 */
export type SourceRecord = EcgRecord & { contentSha256?: string };

/** Each cached study's content hash (null: cached before hashes were stored). */
export type CachedContent = ReadonlyMap<number, string | null>;

/**
 * Opens the record stream, told which studies are cached and from which content, so that it may skip
 * reading those whose content is unchanged. A source that knows how many records it will yield says so
 * through `announceTotal` before the first batch, so progress can show a percentage and an ETA.
 */
export type RecordSource = (
  cached: CachedContent,
  announceTotal: (records: number) => void,
) => AsyncIterable<SourceRecord[]> | Promise<AsyncIterable<SourceRecord[]>>;

/** sha256 of what an embedding depends on: the sampling rate, the lead names and the samples. */
export function recordContentSha256(record: EcgRecord): string {
  const hash = createHash('sha256').update(JSON.stringify([record.samplingRate, record.leadNames]));
  for (const signal of record.signals) {
    hash.update(new Uint8Array(signal.buffer, signal.byteOffset, signal.byteLength));
  }
  return hash.digest('hex');
}

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
 * for the layout), keyed by study_id and content hash. Records cached from the same content are skipped;
 * a record whose content changed is recomputed and its new row supersedes the old one. Parts are renamed
 * into place only when complete, so a crashed run leaves whole parts behind and the next run resumes
 * after them. A record the expert cannot use (e.g. a missing lead) is quarantined and the run goes on.
 */
export async function cacheFeaturesFrom(
  openRecords: RecordSource,
  options: CacheFeaturesOptions,
): Promise<FeatureSummary> {
  return withBackend(validate(options).backend, () => cacheOnBackend(openRecords, options));
}

async function cacheOnBackend(
  openRecords: RecordSource,
  options: CacheFeaturesOptions,
): Promise<FeatureSummary> {
  const { batchSize, seed } = validate(options);
  const runId = options.runId ?? newRunId();
  const expertOptions = { ...options.expertOptions, seed };
  const expert = await createExpert(options.expert, expertOptions);
  try {
    const key = featureSetKey(expert.weightsId, expert.preprocessingHash, expertOptions);
    const dir = featureSetDir(options.warehouse, expert.name, key);
    const manifest: FeatureSetManifest = {
      featureSetId: `${expert.name}/${key}`,
      expert: expert.name,
      weightsId: expert.weightsId,
      preprocessingHash: expert.preprocessingHash,
      embeddingSize: expert.embeddingSize,
      expertOptions,
      ...(expert.featureNames ? { featureNames: [...expert.featureNames] } : {}),
    };
    await prepareDir(dir, manifest);
    const partRows =
      options.partRows ?? Math.max(1, Math.min(4096, Math.floor(PART_VALUES / expert.embeddingSize)));
    const inputs: DatasetRef[] = [];
    const waveforms = warehouseLayout(options.warehouse).waveforms;
    if (existsSync(waveforms)) inputs.push(await describeDataset('waveforms', waveforms));
    if (options.expertOptions?.weightsPath) {
      inputs.push(await describeDataset('weights', options.expertOptions.weightsPath));
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
    const recordEvent = (
      eventType: LineageEvent['eventType'],
      outputs: DatasetRef[],
      outcome: Record<string, unknown>,
    ) =>
      appendLineageEvent(options.warehouse, {
        eventType,
        eventTime: new Date().toISOString(),
        run: { runId },
        job,
        inputs,
        outputs,
        facets: { ...facets, ...backendFacets(), ...outcome },
      });
    await recordEvent('START', [], {});
    try {
      const summary = await withDuckDB(async (connection) => {
        const existing = await listFeatureParts(dir);
        const cached = await cachedContentHashes(connection, existing);
        const state = new RunState(dir, existing.length, cached.size);
        const flush = async (rows: FeatureRows) => {
          state.parts.push(
            await writePart(connection, state.nextPartName(), rows, expert, manifest.featureSetId),
          );
        };
        const pending: FeatureRows = { studyIds: [], contentHashes: [], embeddings: [] };
        const add = async (studyId: number, contentHash: string, embedding: Float32Array | null) => {
          pending.studyIds.push(studyId);
          pending.contentHashes.push(contentHash);
          pending.embeddings.push(embedding);
          if (pending.studyIds.length >= partRows) {
            await flush({
              studyIds: pending.studyIds.splice(0),
              contentHashes: pending.contentHashes.splice(0),
              embeddings: pending.embeddings.splice(0),
            });
          }
        };
        const seenThisRun = new Set<number>();
        const announceTotal = (records: number) => {
          state.total = records;
        };
        for await (const batch of await openRecords(cached, announceTotal)) {
          const fresh: Array<{ record: EcgRecord; contentHash: string }> = [];
          for (const record of batch) {
            state.seen++;
            const contentHash = record.contentSha256 ?? recordContentSha256(record);
            if (cached.get(record.studyId) !== contentHash && !seenThisRun.has(record.studyId)) {
              seenThisRun.add(record.studyId);
              fresh.push({ record, contentHash });
            }
          }
          for (let start = 0; start < fresh.length; start += batchSize) {
            const slice = fresh.slice(start, start + batchSize);
            const embeddings = await embedOrQuarantine(
              expert,
              slice.map((item) => item.record),
              state.quarantined,
            );
            for (const [i, { record, contentHash }] of slice.entries()) {
              const embedding = embeddings[i]!;
              const wasCached = cached.has(record.studyId);
              if (embedding !== null) {
                state.computed++;
                if (wasCached) state.recomputed++;
                await add(record.studyId, contentHash, embedding);
              } else if (wasCached) {
                // Its new content was refused: the embedding of its old content must not stand for it.
                state.withdrawn++;
                await add(record.studyId, contentHash, null);
              }
            }
          }
          options.onProgress?.(state.progress());
        }
        if (pending.studyIds.length > 0) await flush(pending);
        return {
          ...state.progress(),
          parts: state.parts,
          totalRows: cached.size + state.computed - state.recomputed - state.withdrawn,
          quarantinedRecords: state.quarantined,
        };
      });
      const backend = activeBackend()!;
      await recordEvent(
        'COMPLETE',
        await Promise.all([
          describeDataset(`${job.name}/manifest`, join(dir, MANIFEST_FILE)),
          ...summary.parts.map((part) => describeDataset(job.name, part.path, part.rows)),
        ]),
        {
          computed: summary.computed,
          recomputed: summary.recomputed,
          skipped: summary.skipped,
          withdrawn: summary.withdrawn,
          quarantined: summary.quarantinedRecords,
        },
      );
      return {
        runId,
        expert: expert.name,
        featureSetId: manifest.featureSetId,
        dir,
        weightsId: expert.weightsId,
        preprocessingHash: expert.preprocessingHash,
        embeddingSize: expert.embeddingSize,
        backend,
        ...summary,
        quarantinedRecords: summary.quarantinedRecords.slice(0, SUMMARY_QUARANTINE_LIMIT),
      };
    } catch (error) {
      await recordEvent('FAIL', [], { error: (error as Error).message });
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
  total: number | undefined;
  computed = 0;
  recomputed = 0;
  withdrawn = 0;
  readonly quarantined: Array<{ studyId: number; reason: string }> = [];
  readonly parts: Array<{ path: string; sha256: string; rows: number }> = [];
  constructor(
    private readonly dir: string,
    private partCount: number,
    /** Studies cached before this run. */
    private readonly cachedBefore: number,
  ) {}

  nextPartName(): string {
    return join(this.dir, `part-${String(this.partCount++).padStart(6, '0')}.parquet`);
  }

  progress(): FeatureProgress {
    return {
      seen: this.seen,
      ...(this.total === undefined ? {} : { total: this.total }),
      computed: this.computed,
      recomputed: this.recomputed,
      skipped: this.cachedBefore - this.recomputed - this.withdrawn,
      quarantined: this.quarantined.length,
      withdrawn: this.withdrawn,
    };
  }
}

/**
 * Embeds a batch, one embedding per record, null for a quarantined one: when the expert refuses the batch
 * for a bad record, embeds record by record (features do not depend on batch-mates, so the good records'
 * embeddings are the same) and quarantines the bad ones.
 */
async function embedOrQuarantine(
  expert: Expert,
  batch: readonly EcgRecord[],
  quarantine: Array<{ studyId: number; reason: string }>,
): Promise<Array<Float32Array | null>> {
  if (batch.length === 0) return [];
  try {
    return await expert.embed(batch);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
  }
  const embeddings: Array<Float32Array | null> = [];
  for (const record of batch) {
    try {
      embeddings.push((await expert.embed([record]))[0]!);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      quarantine.push({ studyId: record.studyId, reason: error.message });
      embeddings.push(null);
    }
  }
  return embeddings;
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
    // Another run may be writing this feature set right now (two runs at once, an overlapping retry): only
    // the temporaries of writers that are gone are leftovers.
    const writer = /\.tmp-(\d+)-/.exec(name)?.[1];
    if (writer !== undefined && !processAlive(Number(writer)) && (await stat(join(dir, name))).isFile())
      await rm(join(dir, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
