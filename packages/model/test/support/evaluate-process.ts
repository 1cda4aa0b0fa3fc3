// One evaluation in its own process (as a second worker, or a Temporal retry overlapping its first attempt,
// runs it); prints its summary. 2000 replicates take long enough that two of these started together both
// compute and race to store the file.
import { evaluate } from '../../src/evaluate/stage.ts';

const [warehouse, modelId, runId] = process.argv.slice(2) as [string, string, string];
const summary = await evaluate({ warehouse, modelId, runId, replicates: 2000 });
process.stdout.write(`${JSON.stringify(summary)}\n`);
