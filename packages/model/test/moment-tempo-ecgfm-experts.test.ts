import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EcgRecord } from '@enecg/common';
import { ConfigError, InputError, STANDARD_LEADS, sha256File } from '@enecg/common';
import { physicalSignal, readWfdbRecord } from '@enecg/ingest';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import { createExpert } from '../src/experts/registry.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const sharedData = process.env.ENECG_SHARED_DATA ?? join(repoRoot, '../shared/data');
/** PTB record s0010_re: 12 standard leads (+ Frank leads) at 1000 Hz, shipped with wfdb-python's samples. */
const ptbHeader = join(sharedData, 'wfdb-python/sample-data/s0010_re.hea');
const hasPtb = existsSync(ptbHeader);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Two 10 s windows of the real record as EcgRecords (mV per lead, lead names as in the header). */
async function ptbWindows(): Promise<EcgRecord[]> {
  const record = await readWfdbRecord(ptbHeader);
  const names = record.header.signals.map((s) => s.description);
  const full = names.map((_, i) => physicalSignal(record, i));
  return [0, 1].map((w) => ({
    studyId: 10 + w,
    subjectId: 10,
    samplingRate: 1000,
    leadNames: names,
    signals: full.map((lead) => Float32Array.from(lead.subarray(w * 10_000, (w + 1) * 10_000))),
  }));
}

describe.skipIf(!hasPtb).each(installedBackends())(
  'MOMENT, TEMPO and ECG-FM experts on a real 12-lead record (%s backend)',
  { timeout: 60_000 },
  (backend) => {
    let records: EcgRecord[];
    beforeAll(async () => {
      await selectBackend(backend);
      records = await ptbWindows();
    });

    it.each([
      ['moment', 32],
      ['tempo', 96],
      ['ecgfm', 32],
    ])(
      '%s (tiny, random init) embeds per record, deterministically and independently of the batch',
      async (name, size) => {
        const expert = await createExpert(name, { seed: 7 });
        expect(expert.embeddingSize).toBe(size);
        expect(expert.weightsId).toBe('random-init:7');
        const both = await expert.embed(records);
        expect(both).toHaveLength(2);
        for (const embedding of both) {
          expect(embedding).toHaveLength(size);
          expect(embedding.every(Number.isFinite)).toBe(true);
        }
        const [alone] = await expert.embed([records[1]!]);
        expect(maxDiff(alone!, both[1]!)).toBeLessThan(1e-5);
        expect(maxDiff(both[0]!, both[1]!)).toBeGreaterThan(1e-6);
        // Same seed and batch: bit-identical (batch-mates may move the last bits on the native backend).
        const again = await createExpert(name, { seed: 7 });
        expect([...(await again.embed(records))[0]!]).toEqual([...both[0]!]);
        const other = await createExpert(name, { seed: 7, config: { batchSize: 1, normalization: 'none' } });
        expect(other.preprocessingHash).not.toBe(expert.preprocessingHash);
        for (const e of [expert, again, other]) e.dispose();
      },
    );

    it('runs a checkpoint by its reference names and identifies it by sha256', async () => {
      const weightsPath = fixture('ecgfm-tiny.weights.safetensors');
      const config = {
        model: { dModel: 32, ffnDim: 64, heads: 4, layers: 2, convPos: 16, convPosGroups: 4 },
      };
      const expert = await createExpert('ecgfm', { seed: 1, weightsPath, config });
      expect(expert.weightsId).toBe(await sha256File(weightsPath));
      const [embedding] = await expert.embed([records[0]!]);
      expect(embedding!.every(Number.isFinite)).toBe(true);
      expert.dispose();
    });

    it("refuses another expert's checkpoint, naming the first missing tensor", async () => {
      const weightsPath = fixture('ecgfm-tiny.weights.safetensors');
      await expect(createExpert('moment', { seed: 1, weightsPath })).rejects.toThrow(
        /missing tensor patch_embedding\.value_embedding\.weight/,
      );
      await expect(createExpert('moment', { seed: 1, weightsPath })).rejects.toBeInstanceOf(InputError);
    });

    it('names the record and lead when a lead is missing', async () => {
      const expert = await createExpert('ecgfm', { seed: 1 });
      const limb = {
        ...records[0]!,
        leadNames: records[0]!.leadNames.slice(0, 2),
        signals: records[0]!.signals.slice(0, 2),
      };
      await expect(expert.embed([limb])).rejects.toThrow(/10.*lead III is missing/);
      expert.dispose();
    });
  },
);

describe('expert settings', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('accept full sizes and fractional tolerances by key', async () => {
    const expert = await createExpert('moment', {
      seed: 1,
      config: { length: 256, model: { layerNormEps: 1e-5, layers: 1 } },
    });
    expect(expert.embeddingSize).toBe(32);
    expert.dispose();
  });

  it('ECG-FM hands out classifier logits when asked and the head is configured', async () => {
    const expert = await createExpert('ecgfm', {
      seed: 3,
      config: { output: 'logits', model: { labels: 17 } },
    });
    expect(expert.embeddingSize).toBe(17);
    const record: EcgRecord = {
      studyId: 5,
      subjectId: 5,
      samplingRate: 500,
      leadNames: [...STANDARD_LEADS],
      signals: STANDARD_LEADS.map((_, lead) =>
        Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i / (30 + lead))),
      ),
    };
    const [logits] = await expert.embed([record]);
    expect(logits).toHaveLength(17);
    expect(logits!.every(Number.isFinite)).toBe(true);
    expert.dispose();
  });
});

describe('expert settings are refused before any work', () => {
  it.each([
    ['moment', { size: 'huge' }, /moment\.size/],
    ['moment', { length: 600 }, /moment\.length/],
    ['moment', { model: { layers: 0 } }, /moment\.model\.layers/],
    ['tempo', { length: 300 }, /tempo\.length/],
    ['tempo', { leads: ['I', 'II'] }, /tempo\.leads/],
    ['tempo', { output: 'logits' }, /tempo\.output/],
    ['ecgfm', { length: 2000 }, /ecgfm\.length/],
    ['ecgfm', { aggregate: 'median' }, /ecgfm\.aggregate/],
    ['ecgfm', { leads: ['I', 'II'] }, /ecgfm\.leads/],
    ['ecgfm', { output: 'logits' }, /ecgfm\.output: logits need the classifier head/],
    ['ecgfm', { model: { convLayers: [[16, 0, 2]] } }, /ecgfm\.model\.convLayers/],
    ['ecgfm', { model: { convBias: 1 } }, /ecgfm\.model\.convBias: must be true or false/],
    ['tempo', { model: { promptTrend: [1.5] } }, /tempo\.model\.promptTrend/],
    ['moment', { model: { layerNormEps: 0 } }, /moment\.model\.layerNormEps: must be a positive number/],
  ])('%s %j', async (name, config, message) => {
    await expect(createExpert(name, { seed: 1, config })).rejects.toThrow(ConfigError);
    await expect(createExpert(name, { seed: 1, config })).rejects.toThrow(message);
  });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i]!)), 0);
}
