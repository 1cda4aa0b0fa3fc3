import { ConfigError } from '@enecg/common/errors';
import type { MissingRates, SynthLayout } from '@enecg/synth';
import type { Command } from 'commander';
import {
  choiceArgument,
  integerArgument,
  numberArgument,
  numberListArgument,
  positiveIntegerArgument,
} from '../arguments.ts';
import { describeLazily } from '../help.ts';
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

/** `potassium=0.3,rrInterval=0.05` -> { potassium: 0.3, rrInterval: 0.05 }; the rates are checked later. */
function missingRates(value: string, defaults: MissingRates): Partial<MissingRates> {
  const rates: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [key, rate] = part.split('=');
    if (!key || rate === undefined || !(key.trim() in defaults)) {
      throw new ConfigError(
        `'${part}' is not one of ${Object.keys(defaults).join(', ')} = rate`,
        '--missing',
      );
    }
    rates[key.trim()] = numberArgument(rate, `--missing ${key.trim()}`);
  }
  return rates;
}

export function registerSynthCommand(program: Command): void {
  const command = program
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
    .option('--missing <key=rate,...>', 'missing-value rates per field, e.g. potassium=0.3 (defaults below)')
    .option('--overwrite', 'replace a dataset written earlier into --out')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: SynthCommandOptions) => {
      const { DEFAULT_MISSING, generateSynthetic } = await import('@enecg/synth');
      const summary = await generateSynthetic({
        subjects: positiveIntegerArgument(options.subjects, '--subjects'),
        outDir: options.out,
        seed: integerArgument(options.seed, '--seed'),
        layout: choiceArgument<SynthLayout>(options.layout, '--layout', ['v1', 'demo']),
        ...(options.classWeights
          ? { classWeights: numberListArgument(options.classWeights, '--class-weights') }
          : {}),
        ...(options.missing ? { missing: missingRates(options.missing, DEFAULT_MISSING) } : {}),
        overwrite: options.overwrite ?? false,
      });
      printSummary({ ...summary }, options);
    });
  describeLazily(command, async () => {
    const { DEFAULT_MISSING } = await import('@enecg/synth');
    const rates = Object.entries(DEFAULT_MISSING).map(([key, rate]) => `${key}=${rate}`);
    return `\nDefault missing-value rates: ${rates.join(', ')}\n`;
  });
}
