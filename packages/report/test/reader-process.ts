// An auditor's session in its own process: it queries the warehouse over and over while a pipeline writes,
// printing one JSON line per answer, until it sees the watched run complete.
import { queryCatalog } from '../src/index.ts';

const [warehouse, runId, seconds] = process.argv.slice(2) as [string, string, string];
const deadline = Date.now() + Number(seconds) * 1000;
while (Date.now() < deadline) {
  try {
    const [answer] = await queryCatalog(
      warehouse,
      `SELECT (SELECT count(*) FROM records)::INT AS records, (SELECT count(*) FROM lineage_events)::INT AS events,
              (SELECT status FROM runs WHERE run_id = '${runId}') AS status`,
    );
    process.stdout.write(`${JSON.stringify({ ok: true, ...answer })}\n`);
    if (answer?.status === 'COMPLETE') break;
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error) })}\n`);
  }
}
