import { ConfigError } from '@enecg/common';
import { DEFAULT_MISSING, generateSynthetic, type MissingRates, type SynthLayout } from '@enecg/synth';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';

interface SynthCommandOptions {
  subjects: string;
  out: string;
  seed: string;
  layout: string;
  classWeights?: string;
  missing?: string;
  overwrite?: boolean;
  json?: boolean;
}

function integerArgument(value: string, key: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(`must be an integer, got '${value}'`, key);
  return Number(value);
}

function numberList(value: string, key: string): number[] {
  return value.split(',').map((part) => {
    const number = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(number))
      throw new ConfigError(`'${part}' is not a number`, key);
    return number;
  });
}

/** `potassium=0.3,rrInterval=0.05` -> { potassium: 0.3, rrInterval: 0.05 }; the rates are checked later. */
function missingRates(value: string): Partial<MissingRates> {
  const rates: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [key, rate] = part.split('=');
    if (!key || rate === undefined || !(key.trim() in DEFAULT_MISSING)) {
      throw new ConfigError(
        `'${part}' is not one of ${Object.keys(DEFAULT_MISSING).join(', ')} = rate`,
        'missing',
      );
    }
    rates[key.trim()] = numberList(rate, `missing.${key.trim()}`)[0]!;
  }
  return rates;
}

export function registerSynthCommand(program: Command): void {
  program
    .command('synth')
    .description(
      'Generate a synthetic MIMIC-IV-ECG + MIMIC-IV hosp dataset (12-lead, 500 Hz, 10 s WFDB records, ' +
        'machine measurements, potassium labs) with ground_truth.csv for the five tasks',
    )
    .requiredOption('--subjects <n>', 'number of subjects (several ECGs for some)')
    .requiredOption('--out <dir>', 'output folder (created; must not already hold a dataset)')
    .option('--seed <s>', 'random seed; the same seed gives byte-identical files', '42')
    .option('--layout <layout>', "'v1' (MIMIC-IV-ECG v1.0) or 'demo' (MIMIC-IV-ECG demo v0.1)", 'v1')
    .option('--class-weights <w0,...,w14>', 'relative frequencies of the 15 arrhythmia classes')
    .option(
      '--missing <key=rate,...>',
      `missing-value rates (${Object.entries(DEFAULT_MISSING)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`,
    )
    .option('--overwrite', 'replace a dataset written earlier into --out')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: SynthCommandOptions) => {
      const summary = await generateSynthetic({
        subjects: integerArgument(options.subjects, 'subjects'),
        outDir: options.out,
        seed: integerArgument(options.seed, 'seed'),
        layout: options.layout as SynthLayout,
        ...(options.classWeights ? { classWeights: numberList(options.classWeights, 'classWeights') } : {}),
        ...(options.missing ? { missing: missingRates(options.missing) } : {}),
        overwrite: options.overwrite ?? false,
      });
      printSummary({ ...summary }, options);
    });
}
