import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  LAKE,
  lakeExists,
  lakeTableExists,
  parseConfig,
  queryRows,
  sqlString,
  withLake,
} from '@enecg/common';
import { parseLabelConfig } from '@enecg/labels';
import {
  BACKEND_CHOICES,
  checkTopK,
  expertNames,
  type PretrainConfig,
  pretrainableExperts,
  requirePretrainable,
  resolvePretrainConfig,
  resolveTrainConfig,
  validateExpertConfig,
} from '@enecg/model';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const ExpertEntry = z.strictObject({
  name: z.string().min(1),
  /** A safetensors file with the expert's real weights; absent means seeded random init. */
  weights: z.string().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  /**
   * Pretrain the expert on the warehouse's training-split ECGs before caching its features (`enecg
   * pretrain`; `weights` is then the starting point), or reuse an identical finished pretraining.
   */
  pretrain: z.record(z.string(), z.unknown()).optional(),
});

/** The whole pipeline's configuration: one YAML file, validated once, before any work starts. */
export const PipelineConfigSchema = z.strictObject({
  /** MIMIC-IV-ECG folder with record_list.csv, machine_measurements.csv and files/. */
  source: z.string().min(1),
  /** MIMIC-IV hosp folder with patients, labevents, d_labitems. */
  hosp: z.string().min(1),
  /** Where Parquet tables, features, models, reports and lineage go. */
  warehouse: z.string().min(1),
  /**
   * The warehouse's lake catalog: `sqlite` (default, `<warehouse>/catalog.sqlite`) or a
   * `postgres://user@host:port/database` URL, how workers on several machines share one warehouse. Recorded
   * in `<warehouse>/lake.json` when the warehouse is created; a different value is refused afterwards.
   */
  warehouseCatalog: z.string().min(1).optional(),
  seed: z.number().int().nonnegative().default(42),
  ingest: z
    .strictObject({
      shards: z.number().int().min(1).max(256).default(2),
      /** Records per Parquet part: the unit of resumption after a crash. */
      batchSize: z.number().int().positive().max(65_536).default(256),
    })
    .prefault({}),
  /** Passed to the label stage; see packages/labels. */
  labels: z.record(z.string(), z.unknown()).default({}),
  experts: z
    .array(ExpertEntry)
    .min(1)
    .default([{ name: 'dlinear' }, { name: 'timesnet' }, { name: 'measurements' }]),
  features: z
    .strictObject({
      batchSize: z.number().int().positive().max(4096).default(32),
      /** Embeddings per Parquet part: the unit of resumption after a crash (default: about 32 MB). */
      partRows: z.number().int().positive().max(1_048_576).optional(),
      backend: z.enum(BACKEND_CHOICES).default('auto'),
    })
    .prefault({}),
  /** Passed to the training stage; see packages/model. */
  training: z.record(z.string(), z.unknown()).default({}),
  evaluation: z
    .strictObject({
      replicates: z.number().int().min(10).max(100_000).default(200),
      seed: z.number().int().nonnegative().default(7),
    })
    .prefault({}),
  promotion: z.strictObject({ confidence: z.number().min(0.5).max(0.999).default(0.95) }).prefault({}),
});

/**
 * The validated configuration. `gateInput` is derived from `training.gate`, so the leads the gate is
 * trained on are always the leads that were cached for it.
 */
export type PipelineConfig = Omit<z.output<typeof PipelineConfigSchema>, 'experts'> & {
  /** `pretrain` with every default filled in. */
  experts: Array<Omit<z.output<typeof ExpertEntry>, 'pretrain'> & { pretrain?: PretrainConfig }>;
  gateInput: { leads: string[]; length: number };
};
export type PipelineConfigInput = z.input<typeof PipelineConfigSchema>;

/**
 * Validates a pipeline configuration completely, stage sections included, and resolves relative paths
 * against `baseDir` (the config file's folder), so a bad key is refused before any work starts.
 */
export function validatePipelineConfig(
  raw: unknown,
  source = 'pipeline config',
  baseDir = process.cwd(),
): PipelineConfig {
  const config = parseConfig(PipelineConfigSchema, raw, source);
  const known = new Set(expertNames());
  config.experts.forEach((expert, index) => {
    if (config.experts.findIndex((other) => other.name === expert.name) !== index) {
      throw new ConfigError(`expert "${expert.name}" is listed twice`, `experts.${index}.name`);
    }
    if (!known.has(expert.name)) {
      throw new ConfigError(
        `unknown expert "${expert.name}" (known: ${[...known].join(', ')})`,
        `experts.${index}.name`,
      );
    }
    // The expert names its keys `<expert>.<key>`; here they are `experts.<i>.config.<key>`.
    inSection(
      `experts.${index}.config`,
      source,
      () => validateExpertConfig(expert.name, expert.config),
      expert.name,
    );
    if (expert.pretrain !== undefined) {
      if (!pretrainableExperts().includes(expert.name)) {
        throw new ConfigError(
          `${source}: no self-supervised objective for ${expert.name} (pretrainable: ${pretrainableExperts().join(', ')})`,
          `experts.${index}.pretrain`,
        );
      }
      inSection(
        `experts.${index}.config`,
        source,
        () => requirePretrainable(expert.name, expert.config),
        expert.name,
      );
      inSection(
        `experts.${index}.pretrain`,
        source,
        () => resolvePretrainConfig(expert.pretrain),
        'pretrain',
      );
    }
  });
  inSection('labels', source, () => parseLabelConfig(config.labels));
  const { gate } = inSection('training', source, () => {
    const training = resolveTrainConfig(config.training);
    checkTopK(training, config.experts.length);
    return training;
  });
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const resolved: PipelineConfig = {
    ...config,
    source: absolute(config.source),
    hosp: absolute(config.hosp),
    warehouse: absolute(config.warehouse),
    experts: config.experts.map(({ pretrain, ...e }) => ({
      ...e,
      ...(e.weights ? { weights: absolute(e.weights) } : {}),
      ...(pretrain ? { pretrain: resolvePretrainConfig(pretrain) } : {}),
    })),
    gateInput: { leads: gate.leads, length: gate.length },
  };
  for (const key of ['source', 'hosp'] as const) {
    if (!existsSync(resolved[key])) throw new ConfigError(`folder ${resolved[key]} does not exist`, key);
  }
  checkWarehouseFolder(resolved.warehouse);
  resolved.experts.forEach((expert, index) => {
    if (expert.weights && !existsSync(expert.weights)) {
      throw new ConfigError(`weights file ${expert.weights} does not exist`, `experts.${index}.weights`);
    }
  });
  return resolved;
}

/** The warehouse is a folder, or can be created as one: not a file, not under a file or a read-only folder. */
export function checkWarehouseFolder(warehouse: string): void {
  let folder = warehouse;
  while (!existsSync(folder)) {
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  if (!statSync(folder).isDirectory()) {
    throw new ConfigError(
      folder === warehouse
        ? `${warehouse} is a file, not a folder`
        : `${folder} is a file, so ${warehouse} cannot be created`,
      'warehouse',
    );
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new ConfigError(`${folder} is not writable, so ${warehouse} cannot be written`, 'warehouse');
  }
}

/**
 * Runs a stage's own validation of its section, so that its errors name the full key (`training.lora.rank`).
 * `ownPrefix` is a prefix the validator puts on its keys (an expert's name), replaced by the section.
 */
function inSection<T>(section: string, source: string, validate: () => T, ownPrefix?: string): T {
  try {
    return validate();
  } catch (error) {
    if (error instanceof ConfigError) {
      const own =
        ownPrefix !== undefined && error.key?.startsWith(`${ownPrefix}.`)
          ? error.key.slice(ownPrefix.length + 1)
          : error.key;
      const key = own ? `${section}.${own}` : section;
      const reason = error.key ? error.message.slice(error.key.length + 2) : error.message;
      throw new ConfigError(`${source}: ${reason}`, key);
    }
    throw error;
  }
}

export async function loadPipelineConfig(path: string): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the config file ${path}`, 'config');
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid YAML: ${(error as Error).message}`, 'config');
  }
  const config = validatePipelineConfig(raw ?? {}, path, dirname(resolve(path)));
  await checkGateLeadsIngested(config, path);
  return config;
}

/**
 * Where the warehouse already holds records, the gate's leads must be among some record's leads: otherwise
 * the run would fail minutes later, at training, with no cached gate input to speak of.
 */
export async function checkGateLeadsIngested(config: PipelineConfig, source: string): Promise<void> {
  if (!lakeExists(config.warehouse)) return;
  const wanted = config.gateInput.leads;
  const row = await withLake({ warehouse: config.warehouse, readOnly: true }, (lake) =>
    lake.transaction('check gate leads', async (connection) => {
      if (!(await lakeTableExists(connection, 'records'))) return undefined;
      const [counts] = await queryRows(
        connection,
        `SELECT count(*)::INTEGER AS records,
                count(*) FILTER (WHERE list_has_all(lead_names, [${wanted.map(sqlString).join(', ')}]))::INTEGER AS matching
           FROM ${LAKE}.records`,
      );
      return counts;
    }),
  );
  if (row && Number(row.records) > 0 && Number(row.matching) === 0) {
    throw new ConfigError(
      `${source}: none of the ${row.records} ingested records in ${config.warehouse} has lead(s) ${wanted.join(', ')}`,
      'training.gate.leads',
    );
  }
}
