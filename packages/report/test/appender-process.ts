// A stage in its own process appending lineage events as fast as it can, to race another one.
import { appendLineageEvent, codeVersion } from '@enecg/common';

const [warehouse, name, count, startAt] = process.argv.slice(2) as [string, string, string, string];
// Both racers start together, whatever their start-up times (measuring the code version included).
await codeVersion();
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
for (let index = 0; index < Number(count); index++) {
  await appendLineageEvent(warehouse, {
    eventType: index % 2 === 0 ? 'START' : 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId: `appender-${name}` },
    job: { name: 'race' },
    inputs: [],
    outputs: [],
    facets: { index },
  });
}
