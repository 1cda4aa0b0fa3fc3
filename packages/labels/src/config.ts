import { readFile } from 'node:fs/promises';
import { ConfigError, InputError } from '@enecg/common';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The tunable parts of the label rules. Every value is recorded in lineage next to the SQL text, so a
 * label table can always be traced back to the exact thresholds that made it.
 */
export const LabelConfig = z
  .object({
    rrInterval: z
      .object({
        /** MIMIC-IV-ECG writes 29999 when the cart did not measure the interval. */
        missingSentinel: z.number().default(29999),
        /** 200 ms = 300 bpm: faster is not a ventricular rhythm the cart measures reliably. */
        minMs: z.number().positive().default(200),
        /** 3000 ms = 20 bpm: slower is a pause or a measurement error, not a resting RR interval. */
        maxMs: z.number().positive().default(3000),
      })
      .strict()
      .refine((rr) => rr.minMs < rr.maxMs, { message: 'minMs must be below maxMs', path: ['minMs'] })
      .prefault({}),
    age: z
      .object({
        /** MIMIC-IV reports every age above 89 as 91; shifted ages are capped there too. */
        cap: z.number().int().positive().default(91),
      })
      .strict()
      .prefault({}),
    potassium: z
      .object({
        /** 50971: potassium (chemistry), 50822: potassium, whole blood (blood gas). */
        itemIds: z.array(z.number().int().positive()).min(1).default([50971, 50822]),
        /** A result counts for an ECG when it was charted at most this many hours before or after. */
        windowHours: z.number().positive().default(12),
        /** Used when a result carries no reference range of its own (mmol/L, MIMIC's usual range). */
        defaultReferenceRange: z
          .object({ lower: z.number().default(3.3), upper: z.number().default(5.1) })
          .strict()
          .refine((range) => range.lower < range.upper, {
            message: 'lower must be below upper',
            path: ['lower'],
          })
          .prefault({}),
      })
      .strict()
      .prefault({}),
    split: z
      .object({
        seed: z.union([z.number().int(), z.string().min(1)]).default(42),
        fractions: z
          .object({
            train: z.number().min(0).max(1).default(0.7),
            val: z.number().min(0).max(1).default(0.2),
            test: z.number().min(0).max(1).default(0.1),
          })
          .strict()
          .refine((f) => Math.abs(f.train + f.val + f.test - 1) < 1e-9, {
            message: 'train + val + test must add up to 1',
            path: ['train'],
          })
          .prefault({}),
        folds: z.number().int().min(2).default(3),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type LabelConfig = z.output<typeof LabelConfig>;
export type LabelConfigInput = z.input<typeof LabelConfig>;

/** Validates a label configuration, naming the first offending key (e.g. `split.fractions.train`). */
export function parseLabelConfig(raw: unknown): LabelConfig {
  const result = LabelConfig.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const key = [...issue.path, ...unknownKeys.slice(0, 1)].map(String).join('.') || '(root)';
  throw new ConfigError(issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message, key);
}

/** Reads a JSON or YAML label configuration file (by extension); `deriveLabels` validates it. */
export async function readLabelConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read configuration: ${(error as Error).message}`, { file: path });
  }
  const isYaml = /\.ya?ml$/i.test(path);
  try {
    return isYaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new InputError(`not valid ${isYaml ? 'YAML' : 'JSON'}: ${(error as Error).message}`, {
      file: path,
    });
  }
}
