import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  duckdbExtensionPath,
  LAKE,
  postgresBinaries,
  queryRows,
  resolveLakeCatalog,
  type ScratchPostgres,
  startScratchPostgres,
  withLake,
} from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestSummary, ingest, readWaveforms } from '../src/index.ts';

const INGEST_PROCESS = join(import.meta.dirname, 'support', 'ingest-process.ts');
const haveExtensions = existsSync(duckdbExtensionPath('ducklake'));
if (!haveExtensions)
  console.warn('concurrent ingest tests skipped: run `npx enecg setup` for the DuckDB extensions');

function runIngestProcess(source: string, warehouse: string, runId: string) {
  return new Promise<{ summary: IngestSummary; retries: number }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', INGEST_PROCESS, source, warehouse, runId, '5'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`ingest ${runId} exited ${code}: ${err}`));
      resolve({ summary: JSON.parse(out), retries: (err.match(/commit attempt \d+ refused/g) ?? []).length });
    });
  });
}

/** Every study once in records (version 1) and once per lead in waveforms, every waveform file registered. */
async function expectEachStudyOnce(warehouse: string, studies: number) {
  const [counts] = await withLake({ warehouse, readOnly: true }, ({ connection }) =>
    queryRows(
      connection,
      `SELECT (SELECT count(*) FROM ${LAKE}.records)::INT AS records,
              (SELECT count(DISTINCT study_id) FROM ${LAKE}.records)::INT AS studies,
              (SELECT max(version) FROM ${LAKE}.records)::INT AS version,
              (SELECT count(*) FROM ${LAKE}.waveforms)::INT AS leads,
              (SELECT count(DISTINCT (study_id, lead_index)) FROM ${LAKE}.waveforms)::INT AS distinct_leads,
              (SELECT count(*) FROM ${LAKE}.records r
                WHERE NOT EXISTS (SELECT 1 FROM ${LAKE}.waveforms w WHERE w.study_id = r.study_id))::INT AS without_waveform`,
    ),
  );
  expect(counts).toEqual({
    records: studies,
    studies,
    version: 1,
    leads: studies * 12,
    distinct_leads: studies * 12,
    without_waveform: 0,
  });
}

/** A digest of every record as readers see it (ids, leads, samples), in reading order. */
async function readBackDigest(warehouse: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const batch of readWaveforms({ warehouse, batchSize: 16 })) {
    for (const record of batch) {
      hash.update(`${record.studyId}:${record.leadNames.join(',')};`);
      for (const signal of record.signals)
        hash.update(new Uint8Array(signal.buffer, signal.byteOffset, signal.byteLength));
    }
  }
  return hash.digest('hex');
}

/**
 * Three runs of the same ingest at once on one warehouse, plus a retry that overlaps its first attempt
 * (same run id, as Temporal retries an activity whose worker seemed stuck): real processes, a real catalog.
 */
function concurrencySuite(name: string, catalogFor: (label: string) => Promise<string | undefined>) {
  describe.skipIf(!haveExtensions)(`concurrent ingest runs (${name} catalog)`, { timeout: 300_000 }, () => {
    let dir: string;
    let source: string;
    let records: number;
    let alone: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'enecg-concurrent-ingest-'));
      source = join(dir, 'source');
      records = (await generateSynthetic({ subjects: 8, outDir: source, seed: 5 })).records;
      alone = join(dir, 'alone');
      await ingest({ source, warehouse: alone, runId: 'alone', batchSize: 5 });
    }, 120_000);
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('end with every study exactly once per table and read back as one run alone', async () => {
      const warehouse = join(dir, 'shared');
      const catalog = await catalogFor('shared');
      if (catalog) await resolveLakeCatalog(warehouse, catalog);
      const runs = await Promise.all(
        ['a', 'b', 'c', 'a'].map((runId) => runIngestProcess(source, warehouse, runId)),
      );
      for (const { summary } of runs) {
        expect(summary.listed).toBe(records);
        expect(summary.ingested + summary.unchanged).toBe(records);
      }
      // Every study was stored by exactly one of the runs.
      const storedBy = runs.reduce((n, { summary }) => n + summary.written.records, 0);
      expect(storedBy).toBe(records);
      await expectEachStudyOnce(warehouse, records);
      expect(await readBackDigest(warehouse)).toBe(await readBackDigest(alone));
      const retries = runs.reduce((n, run) => n + run.retries, 0);
      console.info(
        `${name}: 4 concurrent ingest processes, ${retries} commit retries, nothing lost or doubled`,
      );
    });
  });
}

concurrencySuite('SQLite', async () => undefined);

const pgBin = postgresBinaries();
if (!pgBin) console.warn('PostgreSQL catalog ingest test skipped: Debian `postgresql` is not installed');
let server: ScratchPostgres | undefined;
if (pgBin && haveExtensions) {
  beforeAll(async () => {
    server = await startScratchPostgres(pgBin);
  }, 60_000);
  afterAll(() => server?.stop(), 60_000);
  concurrencySuite('PostgreSQL', (label) => server!.createDatabase(label));
}
