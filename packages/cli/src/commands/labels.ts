import type { LabelConfigInput } from '@enecg/labels';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';

interface LabelsCommandOptions {
  source: string;
  hosp: string;
  warehouse: string;
  notes?: string;
  config?: string;
  runId?: string;
  json?: boolean;
}

export function registerLabelsCommand(program: Command): void {
  program
    .command('labels')
    .description(
      'Derive the five task labels, subject-level splits and folds from the raw MIMIC CSV/CSV.GZ files\n' +
        "(versioned SQL rules) into the lake's labels table, as one label set (the same inputs reuse it)",
    )
    .requiredOption(
      '--source <dir>',
      'MIMIC-IV-ECG folder with record_list.csv (machine_measurements.csv, waveform_note_links.csv)',
    )
    .requiredOption(
      '--hosp <dir>',
      'MIMIC-IV hosp folder with patients, labevents and d_labitems (.csv or .csv.gz)',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .option('--notes <file>', 'free-text note table (note_id, text) linked through waveform_note_links')
    .option('--config <file>', 'label configuration (JSON or YAML)')
    .option('--run-id <id>', 'run id recorded in lineage (default: a new one)')
    .option('--json', 'print the summary as JSON')
    .action(async (options: LabelsCommandOptions) => {
      const { deriveLabels, readLabelConfigFile } = await import('@enecg/labels');
      const summary = await deriveLabels({
        source: options.source,
        hosp: options.hosp,
        warehouse: options.warehouse,
        notes: options.notes,
        // deriveLabels validates the file's content before it reads anything else.
        config:
          options.config === undefined
            ? undefined
            : ((await readLabelConfigFile(options.config)) as LabelConfigInput),
        runId: options.runId,
      });
      printSummary({ ...summary }, { json: options.json });
    });
}
