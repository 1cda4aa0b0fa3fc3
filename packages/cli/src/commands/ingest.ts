import { ConfigError } from '@enecg/common/errors';
import type { Shard, StoredRecord } from '@enecg/ingest';
import type { Command } from 'commander';
import { choiceArgument, integerArgument, positiveIntegerArgument } from '../arguments.ts';
import { printSummary } from '../output.ts';
import { commandProgress, withProgress } from '../progress.ts';

interface IngestCommandOptions {
  source: string;
  warehouse: string;
  shard?: string;
  runId?: string;
  resume?: string;
  batchSize?: string;
  json?: boolean;
  quiet?: boolean;
}

interface ShowCommandOptions {
  warehouse: string;
  studyId: string;
  format: string;
}

/** `i/n`: worker i (0-based) of n. */
function parseShard(text: string): Shard {
  const parts = text.split('/');
  if (parts.length !== 2) throw new ConfigError(`expected i/n (e.g. 0/4), got '${text}'`, '--shard');
  const count = positiveIntegerArgument(parts[1]!, '--shard');
  const index = integerArgument(parts[0]!, '--shard', { min: 0, max: count - 1 });
  return { index, count };
}

export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description(
      'Ingest the WFDB records listed in <source>/record_list.csv into the warehouse (Parquet); ' +
        'only new or changed records are decoded, bad ones are quarantined with their reason',
    )
    .requiredOption('--source <dir>', 'folder with record_list.csv (MIMIC-IV-ECG v1.0 or demo layout)')
    .requiredOption('--warehouse <dir>', 'warehouse folder (created if absent)')
    .option('--shard <i/n>', 'ingest only studies with study_id % n == i; shards may run concurrently')
    .option('--run-id <id>', 'run id stamped on rows and lineage (default: a new UUID)')
    .option('--resume <token>', 'resume token printed by an interrupted run')
    .option('--batch-size <n>', 'records per Parquet part (bounds memory)')
    .option('--json', 'print a machine-readable summary (no progress lines)')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (options: IngestCommandOptions) => {
      const progress = commandProgress('ingest', 'records', options);
      const shard = options.shard === undefined ? undefined : parseShard(options.shard);
      const batchSize =
        options.batchSize === undefined
          ? undefined
          : positiveIntegerArgument(options.batchSize, '--batch-size');
      const { ingest } = await import('@enecg/ingest');
      const summary = await withProgress(progress, () =>
        ingest({
          source: options.source,
          warehouse: options.warehouse,
          ...(shard === undefined ? {} : { shard }),
          ...(options.runId === undefined ? {} : { runId: options.runId }),
          ...(options.resume === undefined ? {} : { resumeToken: options.resume }),
          ...(batchSize === undefined ? {} : { batchSize }),
          onProgress: ({ done, total }) => progress.update(done, total),
        }),
      );
      printSummary({ ...summary }, options);
    });

  program
    .command('show')
    .description(
      'Print one stored record: header facts, then physical values (mV) per lead, columns named by lead',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder')
    .requiredOption('--study-id <id>', 'study id of the record')
    .option('--format <format>', "'csv' or 'json'", 'csv')
    .action(async (options: ShowCommandOptions) => {
      const format = choiceArgument(options.format, '--format', ['csv', 'json']);
      const { readStoredRecord } = await import('@enecg/ingest');
      const stored = await readStoredRecord(
        options.warehouse,
        positiveIntegerArgument(options.studyId, '--study-id'),
      );
      const text = format === 'json' ? `${JSON.stringify(showJson(stored))}\n` : showCsv(stored);
      // `enecg show ... | head` closes the pipe early; that is not an error.
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
      });
      process.stdout.write(text);
    });
}

function headerFacts(stored: StoredRecord) {
  const { catalog, waveform } = stored;
  return {
    studyId: catalog.studyId,
    subjectId: catalog.subjectId,
    ecgTime: catalog.ecgTime,
    samplingRate: catalog.samplingRate,
    sampleCount: catalog.sampleCount,
    sourcePath: catalog.sourcePath,
    contentSha256: catalog.contentSha256,
    ingestRunId: catalog.ingestRunId,
    version: catalog.version,
    leads: waveform.leadNames.map((name, i) => ({
      name,
      units: waveform.units[i],
      gain: waveform.gains[i],
      baseline: waveform.baselines[i],
    })),
  };
}

/** Float32 millivolts printed with the digits they carry; invalid samples as null / empty cells. */
function formatValue(value: number): string {
  return Number.isNaN(value) ? '' : String(Number(value.toPrecision(7)));
}

function showJson(stored: StoredRecord) {
  const signals: Record<string, (number | null)[]> = {};
  stored.ecg.leadNames.forEach((lead, i) => {
    signals[lead] = Array.from(stored.ecg.signals[i]!, (v) =>
      Number.isNaN(v) ? null : Number(v.toPrecision(7)),
    );
  });
  return { ...headerFacts(stored), units: 'mV', signals };
}

function showCsv(stored: StoredRecord): string {
  const facts = headerFacts(stored);
  const lines: string[] = [];
  for (const [key, value] of Object.entries(facts)) {
    if (key !== 'leads') lines.push(`# ${key}: ${value}`);
  }
  for (const lead of facts.leads) {
    lines.push(`# lead ${lead.name}: gain ${lead.gain} adu/${lead.units}, baseline ${lead.baseline}`);
  }
  lines.push(`sample,time_s,${stored.ecg.leadNames.map((lead) => `${lead}_mV`).join(',')}`);
  const { signals, samplingRate } = stored.ecg;
  const length = signals[0]?.length ?? 0;
  for (let i = 0; i < length; i++) {
    const cells = [String(i), String(Number((i / samplingRate).toFixed(6)))];
    for (const signal of signals) cells.push(formatValue(signal[i]!));
    lines.push(cells.join(','));
  }
  return `${lines.join('\n')}\n`;
}
