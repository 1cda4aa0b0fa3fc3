import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@enecg/common';
import { parseLabelConfig } from '@enecg/labels';
import { resolveTrainConfig } from '@enecg/model';
import { loadPipelineConfig, PipelineConfigSchema, validatePipelineConfig } from '@enecg/workflows';
import { beforeAll, describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'configs', 'pipeline.example.yaml');

let root: string;
let configFile: string;
let exampleText: string;

/** A copy of the example in a temporary repository layout, with the (empty) folders it names. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-cli-config-'));
  await mkdir(join(root, '.work', 'demo', 'synthetic-120', 'hosp'), { recursive: true });
  await mkdir(join(root, 'configs'));
  configFile = join(root, 'configs', 'pipeline.example.yaml');
  await cp(EXAMPLE, configFile);
  exampleText = await readFile(EXAMPLE, 'utf8');
});

/** Every key name of a validated configuration, nested ones included. */
function keyNames(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keyNames(inner)]);
}

describe('configs/pipeline.example.yaml', () => {
  it('validates, with its paths resolved against its own folder', async () => {
    const config = await loadPipelineConfig(configFile);
    expect(config.source).toBe(join(root, '.work', 'demo', 'synthetic-120'));
    expect(config.hosp).toBe(join(root, '.work', 'demo', 'synthetic-120', 'hosp'));
    expect(config.warehouse).toBe(join(root, '.work', 'example', 'warehouse'));
    expect(config.experts.map((expert) => expert.name)).toEqual(['dlinear', 'timesnet', 'measurements']);
  });

  it('states the defaults: validating it gives what an empty configuration gives', async () => {
    const example = await loadPipelineConfig(configFile);
    const paths = { source: example.source, hosp: example.hosp, warehouse: example.warehouse };
    const defaults = validatePipelineConfig(paths);
    const { experts: _exampleExperts, training, labels, ...rest } = example;
    const { experts: _defaultExperts, training: _t, labels: _l, ...defaultRest } = defaults;
    expect(rest).toEqual(defaultRest);
    expect(example.experts.map((e) => e.name)).toEqual(defaults.experts.map((e) => e.name));
    expect(resolveTrainConfig(training)).toEqual(resolveTrainConfig({}));
    expect(parseLabelConfig(labels)).toEqual(parseLabelConfig({}));
  });

  it('documents every key of the pipeline, label and training configuration', () => {
    const documented = new Set([...exampleText.matchAll(/^[\s#-]*([A-Za-z]+):/gm)].map((m) => m[1]));
    const keys = new Set([
      ...Object.keys(PipelineConfigSchema.shape),
      'partRows',
      'weights',
      'config',
      ...keyNames(parseLabelConfig({})),
      ...keyNames(resolveTrainConfig({})),
    ]);
    expect([...keys].filter((key) => !documented.has(key))).toEqual([]);
  });
});

describe('enecg run --config refuses a bad configuration before any work starts', () => {
  const cases = [
    { what: 'a typo in a top-level key', from: /^warehouse:/m, to: 'warehose:', names: ['warehose'] },
    {
      what: 'a typo in a section key',
      from: /^ {2}shards: 2$/m,
      to: '  shard: 2',
      names: ['ingest', '"shard"'],
    },
    {
      what: 'a value of the wrong type',
      from: /^ {2}batchSize: 256$/m,
      to: '  batchSize: many',
      names: ['ingest.batchSize'],
    },
    {
      what: 'a value out of range',
      from: /^ {2}replicates: 200$/m,
      to: '  replicates: 3',
      names: ['evaluation.replicates'],
    },
  ];
  for (const { what, from, to, names } of cases) {
    it(`${what}: exit code 2 and a message naming the key`, async () => {
      expect(exampleText).toMatch(from);
      const bad = join(root, 'configs', 'bad.yaml');
      await writeFile(bad, exampleText.replace(from, to));
      const { code, stdout, stderr } = await enecg(['run', '--config', bad, '--local', '--json']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      for (const name of names) expect(stderr).toContain(name);
      expect(stderr).not.toMatch(/^\s+at /m);
      expect(stderr).not.toContain('Temporal');
    }, 60_000);
  }

  it('names the key in the ConfigError it throws', async () => {
    const bad = join(root, 'configs', 'bad-type.yaml');
    await writeFile(bad, exampleText.replace(/^seed: 42$/m, 'seed: forty-two'));
    const error = await loadPipelineConfig(bad).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe('seed');
  });
});
