import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcgRecord } from '@enecg/common';
import { queryRows, withDuckDB } from '@enecg/common';
import { ingest, listRecords, readWaveforms } from '@enecg/ingest';
import { generateSynthetic } from '@enecg/synth';
import { describe, expect, it } from 'vitest';
import { createExpert } from '../src/experts/registry.ts';
import { cacheFeatures, type FeatureMatrix, readFeatures } from '../src/features/index.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const sharedData = process.env.ENECG_SHARED_DATA ?? join(repoRoot, '../shared/data');
const checkpkg = join(sharedData, 'wfdb-c-bemoody/checkpkg/expected/test');
const hasData = existsSync(`${checkpkg}.hea`);

/** The real 12-lead checkpkg record (MIMIC lead order, 500 Hz, 10 s) under three demo-layout record paths. */
async function buildSource(): Promise<string> {
  const source = await mkdtemp(join(tmpdir(), 'enecg-features-src-'));
  const demo = (
    await readFile(join(sharedData, 'mimic-iv-ecg-demo-0.1-excerpt/record_list.excerpt.csv'), 'utf8')
  )
    .trim()
    .split('\n');
  for (const line of demo.slice(1, 4)) {
    const path = line.split(',')[4]!;
    const name = path.split('/').pop()!;
    const header = (await readFile(`${checkpkg}.hea`, 'latin1'))
      .replace(/^test /, `${name} `)
      .replaceAll(/^test\.dat/gm, `${name}.dat`);
    await mkdir(dirname(join(source, path)), { recursive: true });
    await writeFile(join(source, `${path}.hea`), header, 'latin1');
    await copyFile(`${checkpkg}.dat`, join(source, `${path}.dat`));
  }
  await writeFile(join(source, 'record_list.csv'), `${demo.slice(0, 4).join('\n')}\n`);
  return source;
}

const title = 'features stage over an ingested warehouse (real WFDB record)';
describe.skipIf(!hasData)(
  hasData ? title : `${title}: skipped, no real WFDB data at ${sharedData} (set ENECG_SHARED_DATA)`,
  { timeout: 60_000 },
  () => {
    it('caches every ingested record, then skips them all on a second run', async () => {
      const warehouse = await mkdtemp(join(tmpdir(), 'enecg-features-wh-'));
      await ingest({ source: await buildSource(), warehouse });
      const progress: string[] = [];
      const first = await cacheFeatures({
        warehouse,
        expert: 'dlinear',
        backend: 'wasm',
        batchSize: 2,
        onProgress: (p) => progress.push(`${p.seen}/${p.total}`),
      });
      expect(first).toMatchObject({ total: 3, computed: 3, skipped: 0, quarantined: 0, totalRows: 3 });
      // The total is known from ingest's catalog before the first batch is read.
      expect(progress).toEqual(['2/3', '3/3']);
      const second = await cacheFeatures({ warehouse, expert: 'dlinear', backend: 'wasm' });
      expect(second).toMatchObject({ seen: 0, total: 0, computed: 0, skipped: 3, totalRows: 3, parts: [] });

      const records: EcgRecord[] = [];
      for await (const batch of readWaveforms({ warehouse, batchSize: 8 })) records.push(...batch);
      const expert = await createExpert('dlinear', { seed: 42 });
      const direct = await expert.embed(records);
      const cached = await readFeatures({ warehouse, featureSetId: first.featureSetId });
      expect(cached.studyIds).toEqual(records.map((r) => r.studyId).sort((a, b) => a - b));
      const row = cached.studyIds.indexOf(records[0]!.studyId);
      expect(Array.from(cached.matrix.subarray(row * cached.dim, (row + 1) * cached.dim))).toEqual(
        Array.from(direct[0]!),
      );
      expert.dispose();
    });
  },
);

/**
 * Rewrites a WFDB format-16 record with its frames in reverse order: new samples, the same per-lead
 * checksums (a sum does not depend on order), the initial values updated.
 */
async function reverseRecord(recordPath: string): Promise<void> {
  const header = await readFile(`${recordPath}.hea`, 'latin1');
  const leads = Number(header.split(' ')[1]);
  const dat = await readFile(`${recordPath}.dat`);
  const samples = new Int16Array(dat.buffer, dat.byteOffset, dat.byteLength / 2);
  const frames = samples.length / leads;
  const reversed = new Int16Array(samples.length);
  for (let frame = 0; frame < frames; frame++) {
    reversed.set(samples.subarray(frame * leads, (frame + 1) * leads), (frames - 1 - frame) * leads);
  }
  let lead = 0;
  const rewritten = header.replace(/^(\S+\.dat(?: \S+){4}) (-?\d+) /gm, (_, head: string) => {
    return `${head} ${reversed[lead++]} `;
  });
  expect(lead).toBe(leads);
  await writeFile(`${recordPath}.hea`, rewritten, 'latin1');
  await writeFile(`${recordPath}.dat`, reversed);
}

function embeddingOf(features: FeatureMatrix, studyId: number): number[] {
  const row = features.studyIds.indexOf(studyId);
  expect(row).toBeGreaterThanOrEqual(0);
  return Array.from(features.matrix.subarray(row * features.dim, (row + 1) * features.dim));
}

describe('features stage after a re-ingest with changed content (synthetic dataset)', {
  timeout: 120_000,
}, () => {
  it('recomputes exactly the changed record and reads back its new embedding', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enecg-features-changed-'));
    const source = join(root, 'mimic');
    const warehouse = join(root, 'warehouse');
    await generateSynthetic({ subjects: 5, outDir: source, seed: 17 });
    await ingest({ source, warehouse });
    const catalog = await listRecords(warehouse);
    const options = { warehouse, expert: 'dlinear', backend: 'wasm' as const, batchSize: 4 };
    const first = await cacheFeatures(options);
    expect(first).toMatchObject({
      computed: catalog.length,
      recomputed: 0,
      skipped: 0,
      totalRows: catalog.length,
    });
    const before = await readFeatures({ warehouse, featureSetId: first.featureSetId });

    const changed = catalog[1]!;
    await reverseRecord(join(source, changed.sourcePath));
    const reingest = await ingest({ source, warehouse });
    expect(reingest).toMatchObject({ ingested: 1, unchanged: catalog.length - 1, quarantined: 0 });
    const [current] = await listRecords(warehouse, { studyIds: [changed.studyId] });
    expect(current!.contentSha256).not.toBe(changed.contentSha256);

    const second = await cacheFeatures(options);
    expect(second).toMatchObject({
      seen: 1,
      computed: 1,
      recomputed: 1,
      skipped: catalog.length - 1,
      withdrawn: 0,
      totalRows: catalog.length,
    });
    expect(second.parts).toHaveLength(1);
    await withDuckDB(async (connection) => {
      const rows = await queryRows(
        connection,
        `SELECT study_id::INTEGER AS study_id, content_sha256 FROM read_parquet('${second.parts[0]!.path}')`,
      );
      expect(rows).toEqual([{ study_id: changed.studyId, content_sha256: current!.contentSha256 }]);
    });

    const after = await readFeatures({ warehouse, featureSetId: first.featureSetId });
    expect(after.studyIds).toEqual(before.studyIds);
    const records: EcgRecord[] = [];
    for await (const batch of readWaveforms({ warehouse, studyIds: [changed.studyId], batchSize: 1 })) {
      records.push(...batch);
    }
    const expert = await createExpert('dlinear', { seed: 42 });
    const [fresh] = await expert.embed(records);
    expert.dispose();
    const newEmbedding = embeddingOf(after, changed.studyId);
    expect(newEmbedding).toEqual(Array.from(fresh!));
    expect(newEmbedding).not.toEqual(embeddingOf(before, changed.studyId));
    for (const row of catalog.filter((r) => r.studyId !== changed.studyId)) {
      expect(embeddingOf(after, row.studyId)).toEqual(embeddingOf(before, row.studyId));
    }

    const third = await cacheFeatures(options);
    expect(third).toMatchObject({ seen: 0, computed: 0, skipped: catalog.length, parts: [] });
  });
});
