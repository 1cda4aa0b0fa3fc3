// Lineage at scale: how long an auditor waits for answers over many event files and large artifacts,
// each against a plain baseline measured in the same run. Run: npm run bench -w @enecg/report
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DatasetRef, LineageEvent } from '@enecg/common';
import {
  appendLineageEvent,
  describeDataset,
  sha256File,
  sqlString,
  warehouseLayout,
  withDuckDB,
  writeFileAtomic,
} from '@enecg/common';
import { lineageVerify, queryCatalog, renderReport } from '../src/index.ts';
import { readLineageEvents } from '../src/lineage-store.ts';
import { buildWarehouse } from '../test/warehouse-fixture.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);
const ARTIFACTS = Number(process.env.BENCH_ARTIFACTS ?? 16);
const ARTIFACT_MIB = Number(process.env.BENCH_ARTIFACT_MIB ?? 8);

/** Best of a few runs: the machine is shared, so the minimum is the least noisy estimate. */
async function timed<T>(work: () => Promise<T>, repeats = 3): Promise<{ ms: number; result: T }> {
  let best = Number.POSITIVE_INFINITY;
  let result: T | undefined;
  for (let run = 0; run < repeats; run++) {
    const start = performance.now();
    result = await work();
    best = Math.min(best, performance.now() - start);
  }
  return { ms: best, result: result as T };
}

const root = await mkdtemp(join(tmpdir(), 'enecg-bench-lineage-'));
try {
  const fixture = await buildWarehouse(root);
  const { warehouse } = fixture;
  const layout = warehouseLayout(warehouse);
  const artifacts: DatasetRef[] = [];
  for (let index = 0; index < ARTIFACTS; index++) {
    const path = join(layout.features, 'bench', 'key', `part-${index}.parquet`);
    await mkdir(dirname(path), { recursive: true });
    // Random doubles barely compress, so the Parquet file is about ARTIFACT_MIB in size.
    await withDuckDB((c) =>
      c.run(
        `COPY (SELECT range AS study_id, random() AS x FROM range(${ARTIFACT_MIB * 65536}))
           TO ${sqlString(path)} (FORMAT parquet, COMPRESSION uncompressed)`,
      ),
    );
    artifacts.push(await describeDataset(`bench/${index}`, path, 1000));
  }
  const base = Date.parse('2026-11-24T00:00:00.000Z');
  const benchEvent = (index: number): LineageEvent => ({
    eventType: index % 2 === 0 ? 'START' : 'COMPLETE',
    eventTime: new Date(base + index * 1000).toISOString(),
    run: { runId: `bench-${Math.floor(index / 2)}`, parentRunId: fixture.pipelineRunId },
    job: { name: 'bench' },
    inputs: [artifacts[index % ARTIFACTS]!],
    outputs: index === EVENTS - 1 ? artifacts : [],
    facets: { config: { index } },
  });
  const appendStart = performance.now();
  for (let index = 0; index < EVENTS; index++) await appendLineageEvent(warehouse, benchEvent(index));
  const appendMs = performance.now() - appendStart;
  // Baseline: the same events written as independent atomic files (no chain, no exclusive sequence number).
  const plain = join(root, 'plain-events');
  const plainStart = performance.now();
  for (let index = 0; index < EVENTS; index++) {
    await writeFileAtomic(join(plain, `${index}.json`), `${JSON.stringify(benchEvent(index))}\n`);
  }
  const plainMs = performance.now() - plainStart;
  console.log(
    `append ${EVENTS} hash-chained events: ${appendMs.toFixed(0)} ms (${((appendMs * 1000) / EVENTS).toFixed(0)} µs each); ` +
      `baseline plain atomic JSON files: ${plainMs.toFixed(0)} ms; ratio ${(appendMs / plainMs).toFixed(2)}`,
  );

  const sql = await timed(() =>
    queryCatalog(
      warehouse,
      "SELECT count(*)::INT AS events, count(DISTINCT run_id)::INT AS runs FROM lineage_events WHERE job = 'bench'",
    ),
  );
  const js = await timed(
    async () => (await readLineageEvents(warehouse)).filter((e) => e.job.name === 'bench').length,
  );
  console.log(
    `catalog query over ${EVENTS} event files: ${sql.ms.toFixed(0)} ms (open + query), ` +
      `baseline JSON.parse of every file: ${js.ms.toFixed(0)} ms, ratio ${(sql.ms / js.ms).toFixed(2)}`,
  );
  if (sql.result[0]?.events !== EVENTS || js.result !== EVENTS) throw new Error('event counts disagree');

  const verify = await timed(() => lineageVerify(warehouse));
  const hashOnly = await timed(async () => {
    for (const artifact of artifacts) await sha256File(artifact.path);
  });
  const mib = ARTIFACTS * ARTIFACT_MIB;
  console.log(
    `verify: ${verify.result.checked} artifacts (${mib} MiB of bench data + fixture) in ${verify.ms.toFixed(0)} ms; ` +
      `baseline sha256 of the bench files alone (no event reading): ${hashOnly.ms.toFixed(0)} ms; ratio ${(verify.ms / hashOnly.ms).toFixed(2)}; ` +
      `${(mib / (verify.ms / 1000)).toFixed(0)} MiB/s`,
  );

  const report = await timed(() => renderReport({ warehouse, runId: fixture.pipelineRunId }));
  console.log(
    `renderReport with ${report.result.plots} plots and ${EVENTS} events: ${report.ms.toFixed(0)} ms`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
