import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectOrStartServer, type TemporalServer } from '@enecg/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'configs', 'pipeline.example.yaml');

let server: TemporalServer;
let root: string;
let configFile: string;
/** Child processes talk to this test's own server (TEMPORAL_ADDRESS's, or a dev server started here). */
let env: Record<string, string>;

/**
 * The example configuration, in a temporary repository layout, over 12 synthetic subjects made by
 * `enecg synth`, trained briefly: the real pipeline end to end, small enough for a loaded machine.
 */
beforeAll(async () => {
  server = await connectOrStartServer({ dbFile: ':memory:', headless: true });
  env = { TEMPORAL_ADDRESS: server.address };
  root = await mkdtemp(join(tmpdir(), 'enecg-cli-temporal-'));
  const data = join(root, '.work', 'demo', 'synthetic-120');
  const synth = await enecg(['synth', '--subjects', '12', '--out', data, '--json']);
  expect(synth.code, synth.stderr).toBe(0);
  await mkdir(join(root, 'configs'));
  configFile = join(root, 'configs', 'pipeline.yaml');
  const example = await readFile(EXAMPLE, 'utf8');
  const tiny = example
    .replace(/^ {2}maxEpochs: 20$/m, '  maxEpochs: 1')
    .replace(/^ {2}replicates: 200$/m, '  replicates: 20');
  expect(tiny).toContain('maxEpochs: 1');
  expect(tiny).toContain('replicates: 20\n');
  await writeFile(configFile, tiny);
}, 300_000);

afterAll(async () => {
  await server?.stop();
});

describe('enecg against a real Temporal server', () => {
  it('run --local --json completes the pipeline and prints one JSON document naming the report', async () => {
    const { code, stdout, stderr } = await enecg(['run', '--config', configFile, '--local', '--json'], {
      env,
    });
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as Record<string, unknown> & { reportHtml: string; runId: string };
    expect(summary.warehouse).toBe(join(root, '.work', 'example', 'warehouse'));
    expect(summary.ingested).toMatchObject({ quarantined: 0 });
    expect(existsSync(summary.reportHtml)).toBe(true);
    expect(existsSync(summary.reportMarkdown as string)).toBe(true);

    const status = await enecg(['status', summary.runId, '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    // The stage and the final lineage chain head come from the workflow's memo.
    expect(JSON.parse(status.stdout)).toMatchObject({
      runId: summary.runId,
      status: 'COMPLETED',
      stage: 'done',
      completed: ['ingest', 'labels', 'features', 'train', 'evaluate', 'report'],
      lineageHead: summary.lineageHead,
    });
  }, 300_000);

  it('run --local without --json tells what each stage did, with the test metrics, and status shows the run', async () => {
    const { code, stdout, stderr } = await enecg(['run', '--config', configFile, '--local'], { env });
    expect(code, stderr).toBe(0);
    const runId = /^Run (run-\S+) completed\.$/m.exec(stdout)?.[1];
    expect(runId, stdout).toBeDefined();
    expect(stdout).toMatch(/^ {2}ingest +\d+ records listed: /m);
    expect(stdout).toMatch(/^ {2}model +moe-[0-9a-f]{16}/m);
    expect(stdout).toContain('ensemble [95% CI]');
    expect(stdout).toMatch(/^RR interval \(ms\) +\d+ +mae /m);
    expect(stdout).not.toContain('{"');
    // Progress goes to stderr, as plain lines when stderr is not a terminal.
    expect(stderr).not.toContain('\x1b[');

    const status = await enecg(['status', runId!], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${runId} {2}COMPLETED {2}started `));
  }, 300_000);

  it('schedule create refuses an id that exists, saying what to do instead', async () => {
    const create = ['schedule', 'create', 'cli-test-nightly', '--config', configFile, '--json'];
    const first = await enecg(create, { env });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ scheduleId: 'cli-test-nightly', created: true });

    const again = await enecg(create, { env });
    expect(again.code).toBe(2);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('schedule cli-test-nightly already exists');
    expect(again.stderr).toContain('enecg schedule update');
    expect(again.stderr.trim().split('\n')).toHaveLength(1);

    const list = await enecg(['schedule', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout).schedules).toContainEqual(
      expect.objectContaining({
        scheduleId: 'cli-test-nightly',
        warehouse: join(root, '.work', 'example', 'warehouse'),
        champion: null,
        lastDecision: null,
      }),
    );

    const deleted = await enecg(['schedule', 'delete', 'cli-test-nightly', '--json'], { env });
    expect(deleted.code, deleted.stderr).toBe(0);
  }, 120_000);
});

describe('enecg without a reachable Temporal server', () => {
  it('status fails with exit code 1 and one message saying what to do, without a stack trace', async () => {
    const { code, stdout, stderr } = await enecg(['status', '--json'], {
      env: { TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^enecg: cannot reach a Temporal server at 127\.0\.0\.1:1/);
    expect(stderr).toContain('What to do:');
    expect(stderr).toContain('TEMPORAL_ADDRESS');
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 120_000);
});
