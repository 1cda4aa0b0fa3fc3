// One ingest run in its own process (as a worker or a retried activity runs it); prints its summary.
import { ingest } from '../../src/index.ts';

const [source, warehouse, runId, batchSize] = process.argv.slice(2) as [string, string, string, string];
const summary = await ingest({ source, warehouse, resumeToken: runId, batchSize: Number(batchSize) });
process.stdout.write(`${JSON.stringify(summary)}\n`);
