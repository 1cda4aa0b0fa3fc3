import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import {
  appendLineageEvent,
  appendStartEvent,
  ConfigError,
  type DatasetRef,
  type Lake,
  newRunId,
  openLake,
  STANDARD_LEADS,
  sha256File,
  warehouseLayout,
} from '@enecg/common';
import {
  loadShardState,
  QUARANTINE_TABLE,
  quarantineKey,
  RECORDS_TABLE,
  type Shard,
  type ShardState,
  storedByRun,
  WAVEFORMS_TABLE,
} from './catalog.ts';
import { commitBatch, waveformPartName } from './commit.ts';
import { type ListedRecord, type ListingRow, readRecordList } from './listing.ts';
import type { WrittenFile } from './parquet.ts';
import { SampleArena } from './sample-arena.ts';
import { SourceFiles } from './source-files.ts';
import type { CatalogRow, QuarantineRow, StoredWaveform } from './tables.ts';
import { type ShapeRules, toStoredWaveform } from './validate.ts';
import { WaveformPartWriter } from './waveform-part.ts';
import { WfdbInputError } from './wfdb/errors.ts';
import { parseWfdbHeader } from './wfdb/header.ts';
import { decodeWfdbRecord, signalFileNames } from './wfdb/record.ts';

export interface IngestProgress {
  /** Listed records of this shard handled so far (ingested, unchanged or quarantined). */
  done: number;
  /** Listed records of this shard in total. */
  total: number;
}

export interface IngestOptions {
  /** Folder holding record_list.csv and the files it lists (MIMIC-IV-ECG v1.0 or demo layout). */
  source: string;
  warehouse: string;
  /** Ingest only studies with `study_id % count === index`; shards can run at the same time. */
  shard?: Shard;
  /** Run id stamped on every row and the lineage event; a fresh UUID by default. */
  runId?: string;
  /** `resumeToken` of an interrupted run: continue it under the same run id. */
  resumeToken?: string;
  /** Records per Parquet part (bounds memory: about 0.2 MB per 12-lead 10 s record). Default 256. */
  batchSize?: number;
  /** Name of the record list inside `source`. Default `record_list.csv`. */
  recordList?: string;
  /** Leads every record must have (by name). Default: the 12 standard leads. */
  requiredLeads?: readonly string[];
  /** Called after each batch; a Temporal activity heartbeats from here. */
  onProgress?: (progress: IngestProgress) => void;
}

export interface IngestSummary {
  runId: string;
  /** Pass back as `resumeToken` to finish this run after an interruption. */
  resumeToken: string;
  source: string;
  warehouse: string;
  shard: Shard;
  /** listed = ingested + unchanged + quarantined, always. */
  listed: number;
  ingested: number;
  unchanged: number;
  quarantined: number;
  quarantinedBy: Record<string, number>;
  recordList: { path: string; sha256: string };
  /** Rows this run committed to records and quarantine, and waveform parts it registered. */
  written: { records: number; waveforms: number; quarantine: number };
  lineageEvent: string;
}

const DEFAULT_BATCH_SIZE = 256;

interface IngestConfig {
  source: string;
  warehouse: string;
  shard: Shard;
  runId: string;
  batchSize: number;
  recordListPath: string;
  rules: ShapeRules;
}

/** Refuses bad options before any work starts. */
async function validateOptions(options: IngestOptions): Promise<IngestConfig> {
  const shard = options.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(shard.count) || shard.count < 1) {
    throw new ConfigError(`must be a positive integer, got ${shard.count}`, 'shard.count');
  }
  if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new ConfigError(`must be an integer in [0, ${shard.count}), got ${shard.index}`, 'shard.index');
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ConfigError(`must be a positive integer, got ${batchSize}`, 'batchSize');
  }
  if (
    options.resumeToken !== undefined &&
    options.runId !== undefined &&
    options.resumeToken !== options.runId
  ) {
    throw new ConfigError('names a different run than runId', 'resumeToken');
  }
  const runId = options.resumeToken ?? options.runId ?? newRunId();
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(runId)) {
    throw new ConfigError('must be 1-128 letters, digits, dots, dashes or underscores', 'runId');
  }
  const isDirectory = async (path: string) =>
    (await stat(path).catch(() => undefined))?.isDirectory() === true;
  if (!(await isDirectory(options.source)))
    throw new ConfigError(`${options.source} is not a folder`, 'source');
  const recordListPath = join(options.source, options.recordList ?? 'record_list.csv');
  if (!(await stat(recordListPath).catch(() => undefined))?.isFile()) {
    throw new ConfigError(`${recordListPath} does not exist`, 'recordList');
  }
  return {
    source: await realpath(options.source),
    warehouse: options.warehouse,
    shard,
    runId,
    batchSize,
    recordListPath,
    rules: { requiredLeads: options.requiredLeads ?? STANDARD_LEADS },
  };
}

type Outcome =
  | { kind: 'unchanged' }
  | { kind: 'ingested-earlier-in-run' }
  | { kind: 'ingest'; waveform: StoredWaveform; catalog: Omit<CatalogRow, 'waveformFile' | 'version'> }
  | { kind: 'quarantine'; row: QuarantineRow };

/**
 * Ingests the records listed in `<source>/record_list.csv` into the warehouse: decoded waveforms and
 * a catalog row per record as Parquet parts, a quarantine row per refused record. Only new or changed
 * records (by content hash) are decoded; parts are written atomically per batch, so an interrupted
 * run resumes where it stopped. Shards write only files named after themselves.
 */
export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const config = await validateOptions(options);
  const layout = warehouseLayout(config.warehouse);
  const scratchDir = await mkdtemp(join(tmpdir(), 'enecg-ingest-'));
  // One DuckDB thread: a commit handles a few small files, and ingest's own work fills the core.
  const lake = await openLake({ warehouse: config.warehouse, threads: 1 });
  try {
    return await ingestInto(lake, layout.waveforms, scratchDir, config, options.onProgress);
  } finally {
    lake.close();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

async function ingestInto(
  lake: Lake,
  waveformsDir: string,
  scratchDir: string,
  config: IngestConfig,
  onProgress: IngestOptions['onProgress'],
): Promise<IngestSummary> {
  await mkdir(waveformsDir, { recursive: true });
  await appendStartEvent(config.warehouse, { runId: config.runId }, 'ingest', { shard: config.shard });
  // Reads go through transactions too: a catalog busy with other runs' commits is waited out, not fatal.
  const state = await lake.transaction('read shard state', (c) => loadShardState(c, config.shard));
  const total = await countShardRows(config.recordListPath, config.shard);
  const counts = { listed: 0, ingested: 0, unchanged: 0, quarantined: 0 };
  const quarantinedBy: Record<string, number> = {};
  const written = { records: 0, waveforms: [] as WrittenFile[], quarantine: 0 };
  const seenStudies = new Set<number>();
  const sourceFiles = new SourceFiles(config.source);
  // A record's decoded samples live until the waveform writer has encoded them; the next record reuses
  // their memory, which is then still in the CPU cache.
  const samples = new SampleArena();
  const waveformWriter = new WaveformPartWriter();
  let batchNumber = 0;

  const processBatch = async (rows: ListingRow[]) => {
    const toIngest: Omit<CatalogRow, 'waveformFile' | 'version'>[] = [];
    const toQuarantine: QuarantineRow[] = [];
    for (const row of rows) {
      const outcome = row.ok
        ? examineRecord(row.record, config, state, seenStudies, sourceFiles, samples)
        : rejectedListing(row, config);
      counts.listed++;
      if (outcome.kind === 'unchanged') counts.unchanged++;
      else if (outcome.kind === 'ingested-earlier-in-run') counts.ingested++;
      else if (outcome.kind === 'ingest') {
        counts.ingested++;
        // Encoded now, while the decoded samples are in the CPU cache; their memory is reused below.
        waveformWriter.append(outcome.waveform);
        toIngest.push(outcome.catalog);
      } else {
        counts.quarantined++;
        quarantinedBy[outcome.row.problem] = (quarantinedBy[outcome.row.problem] ?? 0) + 1;
        const key = quarantineKey(outcome.row);
        if (!state.quarantined.has(key)) {
          state.quarantined.add(key);
          toQuarantine.push(outcome.row);
        }
      }
      samples.reset();
    }
    // Named by its content, not by the run: two runs of the same batch write the same bytes to the same name.
    const waveformPart =
      toIngest.length > 0
        ? await waveformWriter.finish(join(waveformsDir, waveformPartName(toIngest)))
        : undefined;
    const committed = await commitBatch(
      lake,
      { waveformsDir, waveformPart, records: toIngest, quarantine: toQuarantine, scratchDir },
      `ingest ${config.runId} batch ${batchNumber++}`,
    );
    counts.ingested -= committed.storedMeanwhile;
    counts.unchanged += committed.storedMeanwhile;
    written.records += committed.records;
    written.quarantine += committed.quarantine;
    if (committed.waveformPart) written.waveforms.push(committed.waveformPart);
    onProgress?.({ done: counts.listed, total });
  };

  let batch: ListingRow[] = [];
  for await (const row of readRecordList(config.recordListPath)) {
    if (!inShard(row, config.shard)) continue;
    batch.push(row);
    if (batch.length >= config.batchSize) {
      await processBatch(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await processBatch(batch);

  // What every attempt of this run (a retried activity, a resume) stored is this run's output: its event
  // names all of it, parts included.
  const stored = await lake.transaction('read what the run stored', (c) =>
    storedByRun(c, waveformsDir, config.runId),
  );
  const recordListSha = await sha256File(config.recordListPath);
  const dataset =
    (name: string) =>
    (file: WrittenFile): DatasetRef => ({
      name,
      path: file.path,
      sha256: file.sha256,
      rows: file.rows,
      bytes: file.bytes,
    });
  const lineageEvent = await appendLineageEvent(config.warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId: config.runId },
    job: { name: 'ingest' },
    inputs: [
      { name: 'record_list', path: config.recordListPath, sha256: recordListSha, rows: counts.listed },
    ],
    outputs: [
      ...stored.records.map(dataset(RECORDS_TABLE)),
      ...stored.waveforms.map(dataset(WAVEFORMS_TABLE)),
      ...stored.quarantine.map(dataset(QUARANTINE_TABLE)),
    ],
    facets: {
      shard: config.shard,
      batchSize: config.batchSize,
      requiredLeads: config.rules.requiredLeads,
      counts,
      quarantinedBy,
    },
  });
  return {
    runId: config.runId,
    resumeToken: config.runId,
    source: config.source,
    warehouse: config.warehouse,
    shard: config.shard,
    ...counts,
    quarantinedBy,
    recordList: { path: config.recordListPath, sha256: recordListSha },
    written: {
      records: written.records,
      waveforms: written.waveforms.length,
      quarantine: written.quarantine,
    },
    lineageEvent,
  };
}

function inShard(row: ListingRow, shard: Shard): boolean {
  const key = row.ok ? row.record.studyId : (row.rejected.studyId ?? row.rejected.line);
  return key % shard.count === shard.index;
}

async function countShardRows(recordListPath: string, shard: Shard): Promise<number> {
  let total = 0;
  for await (const row of readRecordList(recordListPath)) if (inShard(row, shard)) total++;
  return total;
}

function rejectedListing(row: Extract<ListingRow, { ok: false }>, config: IngestConfig): Outcome {
  const { rejected } = row;
  return {
    kind: 'quarantine',
    row: {
      sourcePath: rejected.path,
      studyId: rejected.studyId ?? null,
      subjectId: rejected.subjectId ?? null,
      file: relative(config.source, config.recordListPath) || basename(config.recordListPath),
      record: basename(rejected.path),
      field: `line ${rejected.line} ${rejected.field}`,
      problem: rejected.field === 'path' ? 'unsafe-path' : 'bad-listing',
      reason: rejected.reason,
      contentSha256: null,
      ingestRunId: config.runId,
    },
  };
}

/** Reads, hashes, and (when new or changed) decodes and checks one listed record. */
function examineRecord(
  listed: ListedRecord,
  config: IngestConfig,
  state: ShardState,
  seenStudies: Set<number>,
  sourceFiles: SourceFiles,
  samples: SampleArena,
): Outcome {
  const headerRelative = `${listed.path}.hea`;
  const recordName = basename(listed.path);
  const hash = createHash('sha256');
  let hashedAnything = false;
  // Until every file is read, a quarantine row carries the hash of what could be read.
  const quarantine = (
    problem: string,
    file: string,
    field: string,
    reason: string,
    contentSha256 = hashedAnything ? hash.copy().digest('hex') : null,
  ): Outcome => ({
    kind: 'quarantine',
    row: {
      sourcePath: listed.path,
      studyId: listed.studyId,
      subjectId: listed.subjectId,
      file,
      record: recordName,
      field,
      problem,
      reason,
      contentSha256,
      ingestRunId: config.runId,
    },
  });
  if (seenStudies.has(listed.studyId)) {
    return quarantine(
      'duplicate-study',
      headerRelative,
      'study_id',
      `study ${listed.studyId} is listed twice`,
    );
  }
  seenStudies.add(listed.studyId);

  const headerBytes = sourceFiles.read(headerRelative, 0);
  if (headerBytes === 'missing') {
    return quarantine('missing-header', headerRelative, 'path', `header ${headerRelative} does not exist`);
  }
  if (headerBytes === 'outside') {
    return quarantine(
      'unsafe-path',
      headerRelative,
      'path',
      `${headerRelative} links outside the source folder`,
    );
  }
  hash.update(headerBytes);
  hashedAnything = true;
  const signalFiles = new Map<string, Uint8Array>();
  let header: ReturnType<typeof parseWfdbHeader>;
  try {
    header = parseWfdbHeader(Buffer.from(headerBytes).toString('latin1'), headerRelative);
    const folder = dirname(headerRelative);
    for (const name of signalFileNames(header, headerRelative)) {
      const fileRelative = join(folder, name);
      const bytes = sourceFiles.read(fileRelative, signalFiles.size + 1);
      if (bytes === 'missing') {
        return quarantine(
          'missing-signal-file',
          fileRelative,
          'signal file',
          `signal file ${name} named by ${headerRelative} does not exist`,
        );
      }
      if (bytes === 'outside') {
        return quarantine(
          'unsafe-path',
          fileRelative,
          'signal file',
          `${fileRelative} links outside the source folder`,
        );
      }
      hash.update(bytes);
      signalFiles.set(name, bytes);
    }
  } catch (error) {
    if (error instanceof WfdbInputError) {
      return quarantine(error.problem, headerRelative, error.location.field ?? 'header', error.reason);
    }
    throw error;
  }
  // Checked after the files so that a header naming wrong files reports the missing file first.
  if (header.recordName !== recordName) {
    return quarantine(
      'header-mismatch',
      headerRelative,
      'record name',
      `header names record ${JSON.stringify(header.recordName)}, the listed path names ${JSON.stringify(recordName)}`,
    );
  }

  const contentSha256 = hash.digest('hex');
  const stored = state.stored.get(listed.studyId);
  if (stored?.contentSha256 === contentSha256) {
    return stored.ingestRunId === config.runId ? { kind: 'ingested-earlier-in-run' } : { kind: 'unchanged' };
  }
  let decoded: ReturnType<typeof decodeWfdbRecord>;
  try {
    decoded = decodeWfdbRecord(header, signalFiles, headerRelative, samples.allocate);
  } catch (error) {
    if (error instanceof WfdbInputError) {
      return quarantine(
        error.problem,
        headerRelative,
        error.location.field ?? 'signal file',
        error.reason,
        contentSha256,
      );
    }
    throw error;
  }
  const verdict = toStoredWaveform(decoded, listed, config.rules);
  if (!verdict.ok) {
    const { problem, field, reason } = verdict.refusal;
    return quarantine(problem, headerRelative, field, reason, contentSha256);
  }
  return {
    kind: 'ingest',
    waveform: verdict.waveform,
    catalog: {
      studyId: listed.studyId,
      subjectId: listed.subjectId,
      ecgTime: listed.ecgTime === '' ? null : listed.ecgTime,
      samplingRate: verdict.waveform.samplingRate,
      sampleCount: verdict.waveform.sampleCount,
      leadNames: verdict.waveform.leadNames,
      sourcePath: listed.path,
      contentSha256,
      ingestRunId: config.runId,
    },
  };
}
