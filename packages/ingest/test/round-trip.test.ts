import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic, MIMIC_LEAD_ORDER } from '@enecg/synth';
import { describe, expect, it } from 'vitest';
import { ingest, listQuarantine, listRecords, readWaveforms } from '../src/index.ts';

interface ListedRow {
  subjectId: number;
  studyId: number;
  ecgTime: string;
  path: string;
}

async function readListing(source: string): Promise<Map<number, ListedRow>> {
  const [, ...lines] = (await readFile(join(source, 'record_list.csv'), 'utf8')).trim().split('\n');
  return new Map(
    lines.map((line) => {
      const [subjectId, studyId, , ecgTime, path] = line.split(',');
      return [
        Number(studyId),
        { subjectId: Number(subjectId), studyId: Number(studyId), ecgTime: ecgTime!, path: path! },
      ];
    }),
  );
}

/** What the generator wrote, read straight from the .dat bytes: 12 interleaved little-endian int16 leads. */
async function writtenMillivolts(source: string, path: string): Promise<Float32Array[]> {
  const bytes = await readFile(join(source, `${path}.dat`));
  const frames = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return MIMIC_LEAD_ORDER.map((_, lead) =>
    Float32Array.from({ length: frames.length / 12 }, (_, i) => frames[i * 12 + lead]! / 200),
  );
}

// Generous timeouts: the shared CI box is often oversubscribed; these tests assert results, never speed.
/** Samples that differ (bitwise, as float32) between two sets of leads; deep equality is too slow here. */
function differingSamples(actual: Float32Array[], expected: Float32Array[]): number {
  let differing = 0;
  actual.forEach((signal, lead) => {
    const other = expected[lead]!;
    for (let i = 0; i < signal.length; i++) if (!Object.is(signal[i], other[i])) differing++;
  });
  return differing;
}

describe('round trip through the synthetic generator', { timeout: 120_000 }, () => {
  for (const layout of ['v1', 'demo'] as const) {
    it(`ingests every ${layout} record and reads back exactly what the generator wrote`, async () => {
      const source = await mkdtemp(join(tmpdir(), `enecg-rt-${layout}-`));
      const warehouse = await mkdtemp(join(tmpdir(), 'enecg-rt-wh-'));
      const synth = await generateSynthetic({ subjects: 12, outDir: source, seed: 11, layout });
      const summary = await ingest({ source, warehouse, batchSize: 7 });
      expect(summary).toMatchObject({
        listed: synth.records,
        ingested: synth.records,
        unchanged: 0,
        quarantined: 0,
      });
      expect(await listQuarantine(warehouse)).toEqual([]);

      const listing = await readListing(source);
      const catalog = await listRecords(warehouse);
      expect(catalog).toHaveLength(synth.records);
      for (const row of catalog) {
        const listed = listing.get(row.studyId)!;
        expect(row).toMatchObject({
          subjectId: listed.subjectId,
          sourcePath: listed.path,
          samplingRate: 500,
          sampleCount: 5000,
        });
        expect(row.ecgTime).toBe(listed.ecgTime.length === 16 ? `${listed.ecgTime}:00` : listed.ecgTime);
        expect(row.leadNames).toEqual([...MIMIC_LEAD_ORDER]);
      }

      let seen = 0;
      for await (const batch of readWaveforms({ warehouse, batchSize: 5 })) {
        for (const record of batch) {
          const listed = listing.get(record.studyId)!;
          expect(record.subjectId).toBe(listed.subjectId);
          expect(record.leadNames).toEqual([...MIMIC_LEAD_ORDER]);
          const written = await writtenMillivolts(source, listed.path);
          expect(record.signals.map((signal) => signal.length)).toEqual(
            written.map((signal) => signal.length),
          );
          expect(differingSamples(record.signals, written), `study ${record.studyId}`).toBe(0);
          seen++;
        }
      }
      expect(seen).toBe(synth.records);
    });
  }

  it('stays consistent at scale: many parts, batches bounded, a second run changes nothing', async () => {
    const source = await mkdtemp(join(tmpdir(), 'enecg-scale-'));
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-scale-wh-'));
    const synth = await generateSynthetic({ subjects: 50, outDir: source, seed: 5 });
    const first = await ingest({ source, warehouse, batchSize: 16 });
    expect(first.ingested).toBe(synth.records);
    expect(first.written.waveforms).toBe(Math.ceil(synth.records / 16));
    const second = await ingest({ source, warehouse, batchSize: 16 });
    expect(second).toMatchObject({
      ingested: 0,
      unchanged: synth.records,
      written: { records: 0, waveforms: 0 },
    });
    const ids = new Set<number>();
    for await (const batch of readWaveforms({ warehouse, batchSize: 50 })) {
      expect(batch.length).toBeLessThanOrEqual(50);
      for (const record of batch) ids.add(record.studyId);
    }
    expect(ids.size).toBe(synth.records);
  });
});
