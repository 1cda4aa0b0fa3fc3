import { ConfigError } from '@enecg/common';
import { generateSynthetic, type SynthLayout } from '@enecg/synth';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';

interface SynthCommandOptions {
  subjects: string;
  out: string;
  seed: string;
  layout: string;
  overwrite?: boolean;
  json?: boolean;
}

function integerArgument(value: string, key: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(`must be an integer, got '${value}'`, key);
  return Number(value);
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
    .option('--overwrite', 'replace a dataset written earlier into --out')
    .option('--json', 'print a machine-readable summary')
    .action(async (options: SynthCommandOptions) => {
      const summary = await generateSynthetic({
        subjects: integerArgument(options.subjects, 'subjects'),
        outDir: options.out,
        seed: integerArgument(options.seed, 'seed'),
        layout: options.layout as SynthLayout,
        overwrite: options.overwrite ?? false,
      });
      printSummary({ ...summary }, options);
    });
}
