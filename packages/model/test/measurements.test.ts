import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcgRecord } from '@enecg/common';
import { ConfigError, queryRows, withDuckDB } from '@enecg/common';
import { physicalSignal, readWfdbRecord } from '@enecg/ingest';
import { generateSynthetic } from '@enecg/synth';
import { describe, expect, it } from 'vitest';
import { analyseRecord, featureSpecs } from '../src/experts/measurements/index.ts';
import { createExpert } from '../src/experts/registry.ts';
import { cacheFeaturesFrom, readFeatures, readManifest } from '../src/features/index.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const sharedData = process.env.ENECG_SHARED_DATA ?? join(repoRoot, '../shared/data');
const mitRecord = join(sharedData, 'wfdb-c-bemoody/data/100s');
const hasMit = existsSync(`${mitRecord}.hea`) && existsSync(`${mitRecord}.atr`);

async function readRecord(headerPath: string, studyId = 1): Promise<EcgRecord> {
  const wfdb = await readWfdbRecord(headerPath);
  return {
    studyId,
    subjectId: 1,
    samplingRate: wfdb.header.samplingFrequency,
    leadNames: wfdb.header.signals.map((signal) => signal.description),
    signals: wfdb.header.signals.map((_, i) => Float32Array.from(physicalSignal(wfdb, i))),
  };
}

/** Beat annotation codes (WFDB's isqrs table): normal, bundle branch, premature, escape, paced, fusion, ... */
const BEAT_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 25, 30, 31, 34, 35, 38]);

/** Sample times of the beat annotations of an MIT-format annotation file (WFDB `wrann` format). */
function readBeatAnnotations(bytes: Buffer): number[] {
  const beats: number[] = [];
  let time = 0;
  for (let at = 0; at + 1 < bytes.length; ) {
    const word = bytes.readUInt16LE(at);
    at += 2;
    const code = word >> 10;
    const value = word & 0x3ff;
    if (code === 0 && value === 0) break;
    if (code === 59) {
      // SKIP: a 32-bit interval follows, high 16 bits first.
      time += (bytes.readInt16LE(at) << 16) | bytes.readUInt16LE(at + 2);
      at += 4;
    } else if (code === 63) {
      at += value + (value & 1); // AUX string, padded to an even length
    } else if (code < 59) {
      time += value;
      if (BEAT_CODES.has(code)) beats.push(time);
    }
  }
  return beats;
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

describe('measurements expert on synthetic ECGs with known truth', { timeout: 120_000 }, () => {
  it('measures the RR interval as machine_measurements.rr_interval (ms), and QRS, PR, P presence and axis near their truth', async () => {
    const out = await mkdtemp(join(tmpdir(), 'enecg-measurements-'));
    await generateSynthetic({ subjects: 30, outDir: join(out, 'synth'), seed: 11 });
    const source = join(out, 'synth');
    // The synthetic cart writes the mean R-R of the complexes wholly inside the record (packages/synth).
    const rows = await withDuckDB((connection) =>
      queryRows(
        connection,
        `SELECT m.study_id, r.path, m.rr_interval, m.p_onset, m.qrs_onset, m.qrs_end, m.qrs_axis
           FROM read_csv('${source}/machine_measurements.csv') m JOIN read_csv('${source}/record_list.csv') r USING (study_id)
          ORDER BY m.study_id`,
      ),
    );
    expect(rows.length).toBeGreaterThan(40);
    const rrErrors: number[] = [];
    const qrsErrors: number[] = [];
    const prErrors: number[] = [];
    const axisErrors: number[] = [];
    let pAgreements = 0;
    for (const row of rows) {
      const record = await readRecord(join(source, `${row.path}.hea`), Number(row.study_id));
      const { measurements: m } = analyseRecord(record, ['I', 'II']);
      const value = (name: string) => m.get(name) as number;
      const missing = 29999;
      if (Number(row.rr_interval) !== missing)
        rrErrors.push(Math.abs(value('rr_mean_ms') - Number(row.rr_interval)));
      if (Number(row.qrs_end) !== missing)
        qrsErrors.push(Math.abs(value('qrs_ms') - (Number(row.qrs_end) - Number(row.qrs_onset))));
      const hasP = Number(row.p_onset) !== missing;
      if (hasP === (value('p_absent') === 0)) pAgreements++;
      if (hasP && value('p_absent') === 0) {
        prErrors.push(Math.abs(value('pr_ms') - (Number(row.qrs_onset) - Number(row.p_onset))));
      }
      if (Number(row.qrs_axis) !== missing) {
        const degrees = (Math.atan2(value('qrs_axis_sin'), value('qrs_axis_cos')) * 180) / Math.PI;
        axisErrors.push(Math.abs(((degrees - Number(row.qrs_axis) + 540) % 360) - 180));
      }
    }
    // RR: within a few ms; the few misses are complexes at the record's edge that one side counts as complete.
    expect(percentile(rrErrors, 0.5)).toBeLessThanOrEqual(1);
    expect(percentile(rrErrors, 0.9)).toBeLessThanOrEqual(3);
    expect(rrErrors.filter((error) => error <= 5).length / rrErrors.length).toBeGreaterThanOrEqual(0.9);
    expect(percentile(qrsErrors, 0.5)).toBeLessThanOrEqual(8);
    expect(percentile(prErrors, 0.5)).toBeLessThanOrEqual(20);
    expect(pAgreements / rows.length).toBeGreaterThanOrEqual(0.8);
    expect(percentile(axisErrors, 0.5)).toBeLessThanOrEqual(8);
  });
});

const mitTitle = 'measurements expert against the annotated MIT-BIH record 100s';
describe.skipIf(!hasMit)(
  hasMit ? mitTitle : `${mitTitle}: skipped, no ${mitRecord}.hea/.atr (set ENECG_SHARED_DATA)`,
  () => {
    it('finds the annotated beats (150 ms tolerance): sensitivity and positive predictivity >= 99%', async () => {
      const record = await readRecord(`${mitRecord}.hea`);
      const reference = readBeatAnnotations(await readFile(`${mitRecord}.atr`));
      expect(reference.length).toBeGreaterThan(60);
      const { beats, measurements } = analyseRecord(record, ['MLII', 'V5']);
      const tolerance = Math.round(0.15 * record.samplingRate);
      const matched = new Set<number>();
      let truePositives = 0;
      for (const beat of beats) {
        const hit = reference.findIndex((r, i) => !matched.has(i) && Math.abs(r - beat) <= tolerance);
        if (hit >= 0) {
          matched.add(hit);
          truePositives++;
        }
      }
      expect(truePositives / reference.length).toBeGreaterThanOrEqual(0.99);
      expect(truePositives / beats.length).toBeGreaterThanOrEqual(0.99);
      // The annotated beats' mean RR, against the record's measured one.
      const annotatedRr =
        ((reference.at(-1)! - reference[0]!) / (reference.length - 1) / record.samplingRate) * 1000;
      expect(Math.abs((measurements.get('rr_mean_ms') as number) - annotatedRr)).toBeLessThan(15);
      expect(measurements.get('lead_MLII_absent')).toBe(0);
    });
  },
);

function seededNoise(n: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296 - 0.5) * 2;
  });
}

function record(
  signals: Float32Array[],
  leadNames = signals.map((_, i) => ['I', 'II', 'V1'][i] ?? `X${i}`),
): EcgRecord {
  return { studyId: 7, subjectId: 7, samplingRate: 500, leadNames, signals };
}

describe('measurements expert: embedding contract', () => {
  it('gives a fixed-length, finite, deterministic embedding whatever the record, with the missing parts flagged', async () => {
    const expert = await createExpert('measurements', { seed: 1 });
    const specs = featureSpecs(['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6']);
    expect(expert.embeddingSize).toBe(specs.length);
    expect(expert.featureNames).toEqual(specs.map((spec) => spec.name));
    expect(new Set(expert.featureNames).size).toBe(expert.embeddingSize);
    expect(expert.weightsId).toBe('none');
    const flat = record([new Float32Array(5000), new Float32Array(5000)]);
    const invalid = record([new Float32Array(5000).fill(Number.NaN)]);
    const noise = record([seededNoise(5000, 1), seededNoise(5000, 2), seededNoise(5000, 3)]);
    const short = record([seededNoise(40, 4)]);
    const empty = record([new Float32Array(0)]);
    const holes = record([Float32Array.from(seededNoise(5000, 5), (v, i) => (i % 7 === 0 ? Number.NaN : v))]);
    const noLeads = record([], []);
    const batch = [flat, invalid, noise, short, empty, holes, noLeads];
    const embeddings = await expert.embed(batch);
    const flagAt = (name: string) => (expert.featureNames as string[]).indexOf(name);
    for (const embedding of embeddings) {
      expect(embedding.length).toBe(expert.embeddingSize);
      expect(embedding.every(Number.isFinite)).toBe(true);
      expect(embedding[flagAt('lead_V6_absent')]).toBe(1);
    }
    for (const embedding of [embeddings[0]!, embeddings[1]!, embeddings[4]!, embeddings[6]!]) {
      expect(embedding[flagAt('rhythm_unmeasurable')]).toBe(1);
      expect(embedding[flagAt('p_absent')]).toBe(1);
      expect(embedding[flagAt('lead_I_absent')]).toBe(1);
      // A missing measurement is the neutral value (the feature's center), 0 in the embedding.
      expect(embedding[flagAt('rr_mean_ms')]).toBe(0);
    }
    // Same record, alone or in a batch, twice: bit-identical.
    const again = await expert.embed([noise]);
    expect(Array.from(again[0]!)).toEqual(Array.from(embeddings[2]!));
  });

  it('caches once per record like every expert, with its feature names in the feature set manifest', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-measurements-cache-'));
    const records = [1, 2, 3].map((studyId) => ({
      ...record([seededNoise(5000, studyId), seededNoise(5000, studyId + 10)]),
      studyId,
      subjectId: studyId,
    }));
    const source = async function* () {
      yield records;
    };
    const first = await cacheFeaturesFrom(source, {
      warehouse,
      expert: 'measurements',
      expertOptions: { config: { leads: ['I', 'II'] } },
    });
    expect(first).toMatchObject({ computed: 3, weightsId: 'none', quarantined: 0 });
    const manifest = await readManifest(first.dir);
    expect(manifest?.featureNames).toHaveLength(first.embeddingSize);
    expect(manifest?.featureNames).toContain('r_amplitude_II_mv');
    const again = await cacheFeaturesFrom(source, {
      warehouse,
      expert: 'measurements',
      expertOptions: { config: { leads: ['I', 'II'] } },
    });
    expect(again).toMatchObject({ computed: 0, skipped: 3 });
    const features = await readFeatures({ warehouse, featureSetId: first.featureSetId });
    expect(features.studyIds).toEqual([1, 2, 3]);
    expect(features.matrix.every(Number.isFinite)).toBe(true);
  });

  it('has no weights and refuses bad settings by key', async () => {
    await expect(createExpert('measurements', { seed: 1, weightsPath: 'x.safetensors' })).rejects.toThrow(
      ConfigError,
    );
    await expect(createExpert('measurements', { seed: 1, config: { leads: [] } })).rejects.toThrow(
      /measurements\.leads/,
    );
    await expect(createExpert('measurements', { seed: 1, config: { leads: ['II', 'II'] } })).rejects.toThrow(
      /measurements\.leads/,
    );
    const two = await createExpert('measurements', { seed: 1, config: { leads: ['I', 'II'] } });
    const all = await createExpert('measurements', { seed: 1 });
    expect(two.embeddingSize).toBeLessThan(all.embeddingSize);
    expect(two.preprocessingHash).not.toBe(all.preprocessingHash);
  });
});
