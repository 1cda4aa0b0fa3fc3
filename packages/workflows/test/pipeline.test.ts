import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@enecg/common';
import type { EvaluationReport } from '@enecg/model';
import { lineageVerify } from '@enecg/report';
import { generateSynthetic } from '@enecg/synth';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type PipelineConfig, runPipelineLocally, validatePipelineConfig } from '../src/index.ts';

let root: string;
let input: Record<string, unknown>;
let config: PipelineConfig;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-pipeline-'));
  const source = join(root, 'source');
  await generateSynthetic({ subjects: 16, outDir: source, seed: 7, layout: 'v1' });
  input = {
    source,
    hosp: join(source, 'hosp'),
    warehouse: join(root, 'warehouse'),
    training: { maxEpochs: 2 },
    evaluation: { replicates: 20 },
  };
  config = validatePipelineConfig(input);
});

describe('the enecgPipeline workflow on a real Temporal server', () => {
  it('runs every stage and leaves a model, its evaluation, a report and lineage', async () => {
    const result = await runPipelineLocally({ config, address: inject('temporalAddress') });

    expect(result.ingest.listed).toBeGreaterThan(16);
    expect(result.ingest.listed).toBe(
      result.ingest.ingested + result.ingest.unchanged + result.ingest.quarantined,
    );
    expect(result.labels.rows).toBe(result.ingest.listed);
    expect(result.features.map((f) => f.expert).sort()).toEqual([
      'dlinear',
      'measurements',
      'raw-leads',
      'timesnet',
    ]);
    for (const features of result.features) expect(features.computed).toBe(result.ingest.ingested);

    const evaluation = JSON.parse(await readFile(result.evaluationPath, 'utf8')) as EvaluationReport;
    expect(evaluation.modelId).toBe(result.model.modelId);
    expect(Object.keys(evaluation.tasks).sort()).toEqual([
      'age',
      'flag',
      'gender',
      'report_label',
      'rr_interval',
    ]);
    // No checkpoints are configured, so the evaluation and the report must say the experts are untrained.
    expect(evaluation.randomInitExperts).toEqual(['dlinear', 'timesnet']);
    expect(evaluation.weightlessExperts).toEqual(['measurements']);
    // (Classification tasks may have one class only in this tiny test split: no AUROC to compare.)
    expect(evaluation.tasks.rr_interval?.versusBestExpert?.metric).toBe('mae');
    expect(existsSync(result.report.html)).toBe(true);
    expect(await readFile(result.report.html, 'utf8')).toContain(result.model.modelId);

    // Every stage recorded its start and its end, so the report's Runs table has real durations.
    const folder = join(config.warehouse, 'lineage', 'events');
    const events = await Promise.all(
      (await readdir(folder)).map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8'))),
    );
    for (const job of ['ingest', 'labels', 'features/dlinear', 'train', 'evaluate']) {
      const types = events.filter((event) => event.job.name === job).map((event) => event.eventType);
      expect(types).toContain('START');
      expect(types).toContain('COMPLETE');
    }
    // The whole warehouse matches its lineage, checked against the head the workflow returned.
    expect(result.lineageHead.sequence).toBe(events.length);
    const verified = await lineageVerify(config.warehouse, { expectedHead: result.lineageHead });
    expect(verified.problems).toEqual([]);
    // The model manifest holds the chain head it was trained after.
    const manifest = JSON.parse(await readFile(join(result.model.modelDir, 'model.json'), 'utf8'));
    expect(manifest.lineageHead.sequence).toBeLessThan(result.lineageHead.sequence);
  });

  it('reuses every stage on an identical second run and gives the same model', async () => {
    const first = await runPipelineLocally({ config, address: inject('temporalAddress') });
    const second = await runPipelineLocally({ config, address: inject('temporalAddress') });
    expect(second.ingest.ingested).toBe(0);
    expect(second.ingest.unchanged).toBe(first.ingest.listed);
    expect(second.labels.cacheHit).toBe(true);
    for (const features of second.features)
      expect(features).toMatchObject({ computed: 0, cached: first.ingest.listed });
    expect(second.model).toEqual({ ...first.model, cacheHit: true });
  });

  it('two configurations alternate on one warehouse, each training on its own feature sets', async () => {
    const address = inject('temporalAddress');
    const first = await runPipelineLocally({ config, address });
    // Another seed: other random-init experts, so other feature sets of the same experts beside the first.
    const other = await runPipelineLocally({
      config: validatePipelineConfig({ ...input, seed: 8 }),
      address,
    });
    const again = await runPipelineLocally({ config, address });
    expect(other.model.modelId).not.toBe(first.model.modelId);
    expect(again.model).toEqual({ ...first.model, cacheHit: true });
  });

  it('refuses a bad configuration before any work starts, naming the key', () => {
    expect(() => validatePipelineConfig({ ...input, experts: [{ name: 'resnet' }] })).toThrow(ConfigError);
    expect(() => validatePipelineConfig({ ...input, experts: [{ name: 'resnet' }] })).toThrow(
      /experts\.0\.name/,
    );
    expect(() => validatePipelineConfig({ ...input, ingest: { shards: 0 } })).toThrow(/ingest\.shards/);
    expect(() => validatePipelineConfig({ ...input, source: join(root, 'nowhere') })).toThrow(/source/);
    expect(() => validatePipelineConfig({ ...input, training: { lora: { rank: 0 } } })).toThrow(
      /^training\.lora\.rank: /,
    );
  });
});
