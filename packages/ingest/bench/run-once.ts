/**
 * One measured run in its own process (so peak RSS belongs to it alone), started by bench/ingest.ts:
 *   tsx bench/run-once.ts ingest <source> <recordList> <warehouse>
 *   tsx bench/run-once.ts read <source> <recordList>
 * Prints one JSON line: records, wall and CPU seconds, peak RSS.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ingest, physicalSignal, readWfdbRecord } from '../src/index.ts';

const [mode, source, recordList, warehouse] = process.argv.slice(2);
if (!source || !recordList || (mode !== 'ingest' && mode !== 'read') || (mode === 'ingest' && !warehouse)) {
  throw new Error('usage: run-once.ts ingest|read <source> <recordList> [warehouse]');
}

/** The reader alone, doing what wfdb-python's rdrecord does: read, decode, convert every lead. */
async function readAll(): Promise<number> {
  let records = 0;
  let header = true;
  for await (const line of createInterface({ input: createReadStream(join(source!, recordList!)) })) {
    if (header) {
      header = false;
      continue;
    }
    const record = await readWfdbRecord(join(source!, line.split(',')[4]!));
    for (let lead = 0; lead < record.header.signals.length; lead++) physicalSignal(record, lead);
    records++;
  }
  return records;
}

const cpuStart = process.cpuUsage();
const wallStart = performance.now();
const records =
  mode === 'ingest'
    ? (await ingest({ source, warehouse: warehouse!, recordList })).ingested
    : await readAll();
const cpu = process.cpuUsage(cpuStart);
process.stdout.write(
  `${JSON.stringify({
    records,
    wallSeconds: (performance.now() - wallStart) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
