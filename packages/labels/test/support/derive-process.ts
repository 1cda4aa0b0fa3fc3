// One labels run in its own process (as a worker or a retried activity runs it); prints its summary.
import { deriveLabels } from '../../src/index.ts';

const [source, hosp, warehouse] = process.argv.slice(2) as [string, string, string];
const summary = await deriveLabels({ source, hosp, warehouse });
process.stdout.write(`${JSON.stringify({ labelSet: summary.labelSet, reused: summary.reused })}\n`);
