import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { appendLineageEvent, withLake } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { refreshCatalog } from '../src/index.ts';
import { runEnecg } from './cli.ts';
import { buildWarehouse } from './warehouse-fixture.ts';

interface Answer {
  ok: boolean;
  records?: number;
  events?: number;
  status?: string | null;
  error?: string;
}

const READER = fileURLToPath(new URL('./reader-process.ts', import.meta.url));
const ROWS_PER_CHUNK = 5000;

describe('reading lineage from another process while a run writes', () => {
  it('the reader gets consistent answers throughout, sees the run in progress, then complete', async () => {
    const fixture = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-concurrent-')));
    const { warehouse } = fixture;
    await refreshCatalog(warehouse);
    const runId = 'ingest-while-audited';
    const event = (eventType: 'START' | 'COMPLETE', outputs: number) => ({
      eventType,
      eventTime: new Date().toISOString(),
      run: { runId, parentRunId: fixture.pipelineRunId },
      job: { name: 'ingest' },
      inputs: [],
      outputs: Array.from({ length: outputs }, (_, i) => ({
        name: `records/${i}`,
        path: `records/chunk-${i}.parquet`,
      })),
      facets: {},
    });
    await appendLineageEvent(warehouse, event('START', 0));

    const answers: Answer[] = [];
    const reader = spawn(process.execPath, ['--import', 'tsx', READER, warehouse, runId, '90'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffered = '';
    reader.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) answers.push(JSON.parse(line) as Answer);
    });
    const exited = new Promise<number | null>((resolve) => reader.on('exit', resolve));

    // Write chunks until the reader has answered several times during the run (bounded, in case it never starts).
    let chunks = 0;
    let cliAnswer: Promise<Awaited<ReturnType<typeof runEnecg>>> | undefined;
    const runningAnswers = () => answers.filter((answer) => answer.status === 'RUNNING').length;
    await withLake({ warehouse }, async (lake) => {
      while ((runningAnswers() < 3 || chunks < 3) && chunks < 400) {
        // Each chunk is one lake commit of the records table.
        await lake.transaction(`chunk ${chunks}`, (c) =>
          c.run(
            `INSERT INTO records (study_id, subject_id)
             SELECT 50000000 + ${chunks * ROWS_PER_CHUNK} + range, 11000000 + range FROM range(${ROWS_PER_CHUNK})`,
          ),
        );
        chunks++;
        // Ingest commits once per batch of records, with decoding in between; back-to-back commits on a
        // SQLite catalog (rollback journal) would starve readers' attaches.
        await sleep(150);
        // An auditor's one-off `enecg sql` in a third process, while the run is still writing.
        if (chunks === 2) {
          cliAnswer = runEnecg([
            'sql',
            '--warehouse',
            warehouse,
            '--json',
            'SELECT count(*)::INT AS n FROM records',
          ]);
        }
      }
    });
    await appendLineageEvent(warehouse, event('COMPLETE', chunks));
    expect(await exited).toBe(0);

    const failures = answers.filter((answer) => !answer.ok);
    expect(failures).toEqual([]);
    const initial = fixture.studyIds.length;
    const final = initial + chunks * ROWS_PER_CHUNK;
    const counts = answers.map((answer) => answer.records!);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    const during = answers.filter((answer) => answer.status === 'RUNNING');
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.some((answer) => answer.records! > initial && answer.records! < final)).toBe(true);
    // Whole commits only: a reader never sees half a transaction.
    expect(counts.every((count) => (count - initial) % ROWS_PER_CHUNK === 0)).toBe(true);
    expect(answers.at(-1)).toMatchObject({ status: 'COMPLETE', records: final });

    console.info(
      `reader process: ${answers.length} answers (${during.length} while the run wrote ${chunks} chunks), no failures`,
    );
    const cli = await cliAnswer!;
    expect(cli.code, cli.stderr).toBe(0);
    const [{ n }] = JSON.parse(cli.stdout) as [{ n: number }];
    expect(n).toBeGreaterThanOrEqual(initial + ROWS_PER_CHUNK);
    expect(n).toBeLessThanOrEqual(final);
  }, 120_000);
});
