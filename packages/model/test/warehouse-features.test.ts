import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcgRecord } from '@enecg/common';
import { ingest, readWaveforms } from '@enecg/ingest';
import { describe, expect, it } from 'vitest';
import { createExpert } from '../src/experts/registry.ts';
import { cacheFeatures, readFeatures } from '../src/features/index.ts';

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
      const first = await cacheFeatures({ warehouse, expert: 'dlinear', backend: 'wasm', batchSize: 2 });
      expect(first).toMatchObject({ computed: 3, skipped: 0, quarantined: 0, totalRows: 3 });
      const second = await cacheFeatures({ warehouse, expert: 'dlinear', backend: 'wasm' });
      expect(second).toMatchObject({ seen: 0, computed: 0, skipped: 3, totalRows: 3, parts: [] });

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
