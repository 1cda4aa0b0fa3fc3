import { ConfigError } from '@enecg/common';
import { ingest, readStoredRecord, type Shard, type StoredRecord } from '@enecg/ingest';
import type { Command } from 'commander';
import { printSummary } from '../output.ts';

interface IngestCommandOptions {
  source: string;
  warehouse: string;
  shard?: string;
  runId?: string;
  resume?: string;
  batchSize?: string;
  json?: boolean;
}

interface ShowCommandOptions {
  warehouse: string;
  studyId: string;
  format: string;
}

/** `i/n`: worker i (0-based) of n. */
function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new ConfigError(`expected i/n (e.g. 0/4), got '${text}'`, 'shard');
  const shard = { index: Number(match[1]), count: Number(match[2]) };
  if (shard.count < 1 || shard.index >= shard.count) {
    throw new ConfigError(
      `index must be below the count (0/${shard.count} .. ${shard.count - 1}/${shard.count}), got '${text}'`,
      'shard',
    );
  }
  return shard;
}

function positiveInteger(text: string, key: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1)
    throw new ConfigError(`must be a positive integer, got '${text}'`, key);
  return Number(text);
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
    .option('--json', 'print a machine-readable summary')
    .action(async (options: IngestCommandOptions) => {
      const summary = await ingest({
        source: options.source,
        warehouse: options.warehouse,
        ...(options.shard === undefined ? {} : { shard: parseShard(options.shard) }),
        ...(options.runId === undefined ? {} : { runId: options.runId }),
        ...(options.resume === undefined ? {} : { resumeToken: options.resume }),
        ...(options.batchSize === undefined
          ? {}
          : { batchSize: positiveInteger(options.batchSize, 'batch-size') }),
      });
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
      if (options.format !== 'csv' && options.format !== 'json') {
        throw new ConfigError(`must be 'csv' or 'json', got '${options.format}'`, 'format');
      }
      const stored = await readStoredRecord(options.warehouse, positiveInteger(options.studyId, 'study-id'));
      const text = options.format === 'json' ? `${JSON.stringify(showJson(stored))}\n` : showCsv(stored);
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
