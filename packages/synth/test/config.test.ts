import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ConfigError } from '@enecg/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic, type SynthOptions } from '../src/index.ts';
import { HAS_SHARED_DATA, NEEDS_SHARED_DATA, readTable, SHARED_DATA, type Table } from './helpers.ts';

async function fileHashes(root: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    hashes.set(
      relative(root, path),
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
  }
  return hashes;
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'enecg-synth-config-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('determinism', { timeout: 60_000 }, () => {
  it('writes byte-identical files for the same seed and different ones for another seed', async () => {
    const a = join(scratch, 'a');
    const b = join(scratch, 'b');
    const c = join(scratch, 'c');
    const first = await generateSynthetic({ subjects: 6, outDir: a, seed: 3 });
    const second = await generateSynthetic({ subjects: 6, outDir: b, seed: 3 });
    await generateSynthetic({ subjects: 6, outDir: c, seed: 4 });
    const hashesA = await fileHashes(a);
    expect(hashesA.size).toBeGreaterThan(6 * 2 + 7);
    expect(await fileHashes(b)).toEqual(hashesA);
    expect(second.sha256).toEqual(first.sha256);
    expect((await fileHashes(c)).get('ground_truth.csv')).not.toBe(hashesA.get('ground_truth.csv'));
  }, 60_000);

  it('writes the demo layout: no group folder, 9-digit study ids, seconds, only record_list.csv', async () => {
    const out = join(scratch, 'demo');
    const summary = await generateSynthetic({ subjects: 5, outDir: out, seed: 3, layout: 'demo' });
    expect((await readdir(out)).sort()).toEqual(['files', 'ground_truth.csv', 'hosp', 'record_list.csv']);
    expect(Object.keys(summary.paths).sort()).toEqual(Object.keys(summary.sha256).sort());
    const records = await readTable(join(out, 'record_list.csv'));
    expectDemoRecordList(records);
    expect(records.rows.some((r) => !r.ecg_time!.endsWith(':00'))).toBe(true);
  }, 60_000);

  it.skipIf(!HAS_SHARED_DATA)(
    `checks the demo patterns against the real demo excerpt ${NEEDS_SHARED_DATA}`,
    async () => {
      const real = await readTable(
        join(SHARED_DATA, 'mimic-iv-ecg-demo-0.1-excerpt', 'record_list.excerpt.csv'),
      );
      expectDemoRecordList(real);
    },
  );
});

function expectDemoRecordList(records: Table): void {
  expect(records.header).toEqual(['subject_id', 'study_id', 'file_name', 'ecg_time', 'path']);
  for (const row of records.rows) {
    expect(row.subject_id).toMatch(/^1\d{7}$/);
    expect(row.study_id).toMatch(/^10\d{7}$/);
    expect(row.file_name).toBe(row.study_id);
    expect(row.path).toBe(`files/p${row.subject_id}/s${row.study_id}/${row.study_id}`);
    expect(row.ecg_time).toMatch(/^2[12]\d\d-[01]\d-[0-3]\d [0-2]\d:[0-5]\d:[0-5]\d$/);
  }
}

describe('lineage', { timeout: 60_000 }, () => {
  it('appends one event naming every table it wrote with its sha256', async () => {
    const warehouse = join(scratch, 'warehouse');
    const summary = await generateSynthetic({
      subjects: 2,
      outDir: join(scratch, 'lineage'),
      seed: 2,
      warehouse,
    });
    const events = await readdir(join(warehouse, 'lineage', 'events'));
    expect(events).toHaveLength(1);
    const event = JSON.parse(await readFile(join(warehouse, 'lineage', 'events', events[0]!), 'utf8'));
    expect(event.job.name).toBe('synth');
    expect(event.facets.options.seed).toBe(2);
    const outputs = new Map(event.outputs.map((o: { name: string; sha256: string }) => [o.name, o.sha256]));
    expect(outputs.get('synth/groundTruth')).toBe(summary.sha256.groundTruth);
    expect(outputs.size).toBe(Object.keys(summary.sha256).length);
  });
});

describe('bad arguments', { timeout: 60_000 }, () => {
  async function refusal(options: Partial<SynthOptions>): Promise<ConfigError> {
    const outDir = options.outDir ?? join(scratch, `refused-${Math.random().toString(36).slice(2)}`);
    const error = await generateSynthetic({ subjects: 2, ...options, outDir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }

  it('refuses negative, zero and fractional counts, naming the key', async () => {
    expect((await refusal({ subjects: -5 })).message).toBe(
      'subjects: must be an integer from 1 to 1000000, got -5',
    );
    expect((await refusal({ subjects: 900_000, maxEcgsPerSubject: 10 })).message).toContain('study id space');
    expect((await refusal({ subjects: 0 })).key).toBe('subjects');
    expect((await refusal({ subjects: 2.5 })).key).toBe('subjects');
    expect((await refusal({ maxEcgsPerSubject: -1 })).key).toBe('maxEcgsPerSubject');
  });

  it('refuses bad seeds, layouts, class weights and rates', async () => {
    expect((await refusal({ seed: -1 })).key).toBe('seed');
    expect((await refusal({ layout: 'v2' as 'v1' })).message).toContain("must be 'v1' or 'demo'");
    expect((await refusal({ classWeights: [1, 2, 3] })).key).toBe('classWeights');
    expect((await refusal({ missing: { potassium: 1.5 } })).key).toBe('missing.potassium');
  });

  it('refuses an output folder it cannot create and writes nothing', async () => {
    const file = join(scratch, 'a-file');
    await writeFile(file, 'not a folder');
    const error = await refusal({ outDir: join(file, 'dataset') });
    expect(error.key).toBe('outDir');
    expect(error.message).toContain(join(file, 'dataset'));
    expect(error.message).toMatch(/cannot create or write/);
  });

  it('refuses to mix a new dataset into an earlier one unless asked to overwrite', async () => {
    const out = join(scratch, 'twice');
    await generateSynthetic({ subjects: 2, outDir: out, seed: 1 });
    const error = await refusal({ outDir: out });
    expect(error.message).toContain('already holds a dataset');
    const summary = await generateSynthetic({ subjects: 3, outDir: out, seed: 1, overwrite: true });
    expect((await readTable(join(out, 'record_list.csv'))).rows).toHaveLength(summary.records);
  }, 60_000);
});
