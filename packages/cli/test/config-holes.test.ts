import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, withLake } from '@enecg/common';
import { cronProblem, loadPipelineConfig, validatePipelineConfig } from '@enecg/workflows';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

let root: string;
let base: Record<string, unknown>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-config-holes-'));
  await mkdir(join(root, 'source', 'hosp'), { recursive: true });
  base = { source: join(root, 'source'), hosp: join(root, 'source', 'hosp'), warehouse: join(root, 'wh') };
});

function refusal(raw: unknown): ConfigError {
  try {
    validatePipelineConfig(raw, 'test config', root);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
}

describe('the pipeline configuration refuses what it used to let through, naming the key', () => {
  const experts = [{ name: 'dlinear' }, { name: 'timesnet' }, { name: 'moment' }];
  it.each([
    [
      'a typo inside training.lossWeights',
      { training: { lossWeights: { agee: 1 } } },
      'training.lossWeights.agee',
    ],
    [
      'a gate lead that is no ECG lead',
      { training: { gate: { leads: ['II', 'XX'] } } },
      'training.gate.leads.1',
    ],
    ['a repeated gate lead', { training: { gate: { leads: ['II', 'II'] } } }, 'training.gate.leads'],
    ['an ingest batch of a billion records', { ingest: { batchSize: 1e9 } }, 'ingest.batchSize'],
    ['a feature batch of a million records', { features: { batchSize: 1e6 } }, 'features.batchSize'],
    ['a billion bootstrap replicates', { evaluation: { replicates: 1e9 } }, 'evaluation.replicates'],
    ['a huge hidden layer', { training: { hiddenSize: 1e7 } }, 'training.hiddenSize'],
    [
      'top-k above the number of experts',
      { experts, training: { gate: { topK: 99 } } },
      'training.gate.topK',
    ],
    ['an expert listed twice', { experts: [{ name: 'dlinear' }, { name: 'dlinear' }] }, 'experts.1.name'],
    ['a warehouse that is a file', { warehouse: '/etc/passwd' }, 'warehouse'],
    ['a warehouse under a file', { warehouse: '/etc/passwd/warehouse' }, 'warehouse'],
    ['lossWeights that are not a mapping', { training: { lossWeights: 3 } }, 'training.lossWeights'],
    ['tasks that are not a list', { training: { tasks: 5 } }, 'training.tasks'],
    ['a preset named after an object property', { training: { preset: 'toString' } }, 'training.preset'],
  ])('%s', (_, change, key) => {
    expect(refusal({ ...base, ...change }).key).toBe(key);
  });

  it('accepts top-k up to the number of experts', () => {
    const config = validatePipelineConfig({ ...base, training: { gate: { topK: 2 } } }, 'test config', root);
    // The default ensemble has at least two experts (its size changes as experts are added).
    expect(config.experts.length).toBeGreaterThanOrEqual(2);
    expect(config.training).toMatchObject({ gate: { topK: 2 } });
  });

  it('refuses gate leads that no ingested record has, before any work starts', async () => {
    const warehouse = join(root, 'ingested');
    await withLake({ warehouse }, (lake) =>
      lake.transaction('one ingested record', async (connection) => {
        await connection.run('CREATE TABLE records (study_id BIGINT, lead_names VARCHAR[])');
        await connection.run("INSERT INTO records VALUES (1, ['I', 'II', 'III'])");
      }),
    );
    const file = join(root, 'v1.yaml');
    const write = (leads: string) =>
      writeFile(
        file,
        `source: ${base.source}\nhosp: ${base.hosp}\nwarehouse: ${warehouse}\ntraining:\n  gate:\n    leads: [${leads}]\n`,
      );
    await write('V1');
    const error = await loadPipelineConfig(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe('training.gate.leads');
    expect((error as ConfigError).message).toContain('none of the 1 ingested records');
    await write('II');
    expect((await loadPipelineConfig(file)).gateInput.leads).toEqual(['II']);
  });
});

describe('schedule timing is parsed at the edge', () => {
  it.each([
    ['0 2 * * *', null],
    ['*/15 1-5 * JAN-MAR mon-fri', null],
    ['@daily', null],
    ['61 2 * * *', 'minute "61" is not a value or range within 0-59'],
    ['0 2 * *', 'expected 5 fields'],
    ['0 25 * * *', 'hour "25"'],
    ['0 2 * * 8', 'day of week "8"'],
    ['0 2 */0 * *', 'a step is /<positive integer>'],
  ])('cron %j', (expression, problem) => {
    const found = cronProblem(expression);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toContain(problem);
  });

  it.each([
    [['--cron', '61 2 * * *'], '--cron: minute "61"'],
    [['--time-zone', 'Mars/Olympus'], '--time-zone: unknown IANA time zone "Mars/Olympus"'],
    [['--catchup-window', 'soon'], '--catchup-window: expected a duration'],
  ])(
    'enecg schedule create %j exits 2 naming the flag, before reaching Temporal',
    async (flags, message) => {
      const result = await enecg([
        'schedule',
        'create',
        'nightly',
        '--config',
        join(root, 'absent.yaml'),
        ...flags,
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    },
    60_000,
  );
});

/** Values of every kind a YAML file can hold, biased towards the edges of each key's range. */
const value = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.integer(),
  fc.constantFrom(0, -1, 1, 2, 3, 1e9, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 'II', 'XX', null, true, []),
);
const section = (keys: string[]) => fc.oneof(value, fc.dictionary(fc.constantFrom(...keys, 'typo'), value));
const rawConfig = fc.record(
  {
    seed: value,
    ingest: section(['shards', 'batchSize']),
    features: section(['batchSize', 'partRows', 'backend']),
    evaluation: section(['replicates', 'seed']),
    experts: fc.oneof(
      value,
      fc.array(fc.record({ name: fc.constantFrom('dlinear', 'timesnet', 'moment', 'nope') }), {
        maxLength: 4,
      }),
    ),
    training: fc.oneof(
      value,
      fc.record(
        {
          lossWeights: section(['age', 'gender', 'rr_interval', 'agee']),
          gate: section(['leads', 'topK', 'length', 'depth']),
          tasks: value,
          batchSize: value,
          preset: fc.constantFrom('default', 'faithful', 'toString', 'x'),
        },
        { requiredKeys: [] },
      ),
    ),
    promotion: value,
  },
  { requiredKeys: [] },
);

/** Keys to set to a generated value in an otherwise valid configuration, nested ones by dotted path. */
const PATHS = [
  'seed',
  'source',
  'warehouse',
  'ingest',
  'ingest.batchSize',
  'ingest.shards',
  'features.batchSize',
  'features.partRows',
  'features.backend',
  'evaluation.replicates',
  'evaluation.seed',
  'experts',
  'experts.0',
  'experts.0.name',
  'experts.0.config',
  'experts.0.weights',
  'experts.0.pretrain',
  'experts.0.pretrain.steps',
  'experts.0.pretrain.maskRatio',
  'experts.1',
  'training',
  'training.tasks',
  'training.lossWeights',
  'training.lossWeights.age',
  'training.lossWeights.agee',
  'training.gate',
  'training.gate.leads',
  'training.gate.leads.0',
  'training.gate.topK',
  'training.gate.length',
  'training.gate.depth',
  'training.gate.width',
  'training.lora',
  'training.lora.rank',
  'training.lora.dropout',
  'training.hiddenSize',
  'training.preset',
  'training.batchSize',
  'training.learningRate',
  'training.weightDecay',
  'training.trainLastHeadLayer',
  'training.seed',
  'labels',
  'labels.split',
  'promotion',
  'promotion.confidence',
];

function withValueAt(path: string, inserted: unknown): Record<string, unknown> {
  const config: Record<string, unknown> = {
    ...base,
    experts: [{ name: 'dlinear' }, { name: 'timesnet' }],
    training: { gate: { leads: ['II'] }, lossWeights: {}, lora: {} },
  };
  const keys = path.split('.');
  let node = config as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = inserted;
  return config;
}

describe('fuzzing the pipeline configuration validator', () => {
  it('refuses with a ConfigError naming a key, or returns a configuration within bounds; it never crashes', () => {
    const oneKey = fc
      .tuple(fc.constantFrom(...PATHS), value)
      .map(([path, inserted]) => withValueAt(path, inserted));
    fc.assert(
      fc.property(
        fc.oneof(
          rawConfig.map((raw) => ({ ...base, ...raw })),
          oneKey,
        ),
        (raw) => {
          let config: ReturnType<typeof validatePipelineConfig>;
          try {
            config = validatePipelineConfig(raw, 'fuzz', root);
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError);
            expect((error as ConfigError).key).toBeTruthy();
            return;
          }
          expect(Number.isInteger(config.ingest.batchSize) && config.ingest.batchSize <= 65_536).toBe(true);
          expect(new Set(config.experts.map((e) => e.name)).size).toBe(config.experts.length);
          expect(config.gateInput.leads.length).toBeGreaterThan(0);
          expect(config.evaluation.replicates).toBeLessThanOrEqual(100_000);
        },
      ),
      { numRuns: 4000, seed: 19 },
    );
  });
});
