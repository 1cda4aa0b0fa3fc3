import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ChainedLineageEvent,
  lineageEventFileName,
  readLineageHead,
  sha256,
  warehouseLayout,
} from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatProblem, lineageVerify, renderReport, type VerifyAnswer } from '../src/index.ts';
import { buildWarehouse, type WarehouseFixture } from './warehouse-fixture.ts';

const APPENDER = fileURLToPath(new URL('./appender-process.ts', import.meta.url));

let fixture: WarehouseFixture;
let built: string;

beforeAll(async () => {
  fixture = await buildWarehouse(await mkdtemp(join(tmpdir(), 'enecg-tamper-')));
  await renderReport({ warehouse: fixture.warehouse, runId: fixture.pipelineRunId });
  built = fixture.warehouse;
}, 60_000);

/** A fresh copy of the built warehouse in another folder, so that each case tampers with its own. */
async function copyOfWarehouse(): Promise<string> {
  const copy = join(await mkdtemp(join(tmpdir(), 'enecg-tamper-copy-')), 'warehouse');
  await cp(built, copy, { recursive: true });
  return copy;
}

async function eventFiles(warehouse: string): Promise<string[]> {
  return (await readdir(warehouseLayout(warehouse).lineageEvents)).sort();
}

async function eventPath(warehouse: string, sequence: number): Promise<string> {
  return join(warehouseLayout(warehouse).lineageEvents, lineageEventFileName(sequence));
}

/** The sequence of the first event with this job and type. */
async function sequenceOf(warehouse: string, job: string, eventType: string): Promise<number> {
  for (const name of await eventFiles(warehouse)) {
    const event = JSON.parse(await readFile(join(warehouseLayout(warehouse).lineageEvents, name), 'utf8'));
    if (event.job.name === job && event.eventType === eventType) return event.sequence;
  }
  throw new Error(`no ${eventType} event of ${job}`);
}

async function editEvent(path: string, change: (event: ChainedLineageEvent) => void): Promise<void> {
  const event = JSON.parse(await readFile(path, 'utf8'));
  change(event);
  await writeFile(path, `${JSON.stringify(event)}\n`);
}

async function flipByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  await writeFile(file, bytes);
}

const lines = (answer: VerifyAnswer) => answer.problems.map(formatProblem);

describe('lineage verify: a clean warehouse and its copy', () => {
  it('the built warehouse verifies with no problem, and so does a copy in another folder', async () => {
    const answer = await lineageVerify(built);
    expect(lines(answer)).toEqual([]);
    expect(answer.head).toEqual(await readLineageHead(built));
    expect(answer.dataFiles).toBeGreaterThanOrEqual(10);
    expect(lines(await lineageVerify(await copyOfWarehouse()))).toEqual([]);
  });

  it('a byte flipped in a copy is found in the copy and the original stays clean', async () => {
    const copy = await copyOfWarehouse();
    await flipByte(join(copy, 'models', fixture.modelId, 'model.safetensors'));
    expect(lines(await lineageVerify(copy))).toEqual([
      expect.stringMatching(
        new RegExp(
          `\\(train run train-42\\): models/${fixture.modelId}/model\\.safetensors: sha256 recorded`,
        ),
      ),
    ]);
    expect(lines(await lineageVerify(built))).toEqual([]);
  });
});

describe('lineage verify: tampered events', () => {
  it('an edited seed breaks the chain at the next event', async () => {
    const copy = await copyOfWarehouse();
    const train = await sequenceOf(copy, 'train', 'COMPLETE');
    await editEvent(await eventPath(copy, train), (event) => {
      event.facets.seeds!.init = 1;
    });
    expect(lines(await lineageVerify(copy))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^event ${lineageEventFileName(train + 1)} \\(evaluate run evaluate-42\\): previousSha256 [0-9a-f]{16} is not the sha256 of event ${lineageEventFileName(train)}`,
        ),
      ),
    ]);
  });

  it('an edited output hash breaks the chain and no longer matches the file', async () => {
    const copy = await copyOfWarehouse();
    const labels = await sequenceOf(copy, 'labels', 'COMPLETE');
    await editEvent(await eventPath(copy, labels), (event) => {
      event.outputs[0]!.sha256 = '0'.repeat(64);
    });
    const found = lines(await lineageVerify(copy));
    expect(found).toContainEqual(
      expect.stringMatching(`is not the sha256 of event ${lineageEventFileName(labels)}`),
    );
    expect(found).toContainEqual(
      expect.stringMatching(
        `^event ${lineageEventFileName(labels)} \\(labels run labels-42\\): ${fixture.labelFile}: sha256 recorded 0000000000000000, now`,
      ),
    );
  });

  it('a deleted event leaves a gap in the sequence', async () => {
    const copy = await copyOfWarehouse();
    const features = await sequenceOf(copy, 'features', 'START');
    await rm(await eventPath(copy, features));
    expect(lines(await lineageVerify(copy))).toEqual([
      `event ${lineageEventFileName(features)}: missing: the chain holds events up to ${(await eventFiles(copy)).length + 1}, so this one was deleted or renamed`,
    ]);
  });

  it('deleting the last event leaves its outputs unnamed, and an expected head names the cut', async () => {
    const copy = await copyOfWarehouse();
    const head = (await readLineageHead(copy))!;
    await rm(await eventPath(copy, head.sequence));
    const found = lines(await lineageVerify(copy, { expectedHead: head }));
    expect(found).toContainEqual(
      `event ${lineageEventFileName(head.sequence)}: the expected head names this event (sha256 ${head.sha256.slice(0, 16)}) but it is gone: history was cut`,
    );
    expect(found).toContainEqual(
      `runs/${fixture.pipelineRunId}/report.html: a data file no lineage event names`,
    );
  });

  it('an event inserted in the middle (later ones renumbered) breaks the chain after it', async () => {
    const copy = await copyOfWarehouse();
    const folder = warehouseLayout(copy).lineageEvents;
    const names = await eventFiles(copy);
    const at = 4;
    for (let sequence = names.length; sequence >= at; sequence--) {
      await rename(
        join(folder, lineageEventFileName(sequence)),
        join(folder, lineageEventFileName(sequence + 1)),
      );
    }
    const previous = await readFile(join(folder, lineageEventFileName(at - 1)));
    const forged = {
      sequence: at,
      previousSha256: sha256(previous),
      eventType: 'COMPLETE',
      eventTime: '2026-11-20T00:00:00.000Z',
      run: { runId: 'forged' },
      job: { name: 'labels' },
      inputs: [],
      outputs: [],
      facets: {},
    };
    await writeFile(join(folder, lineageEventFileName(at)), `${JSON.stringify(forged)}\n`);
    const found = lines(await lineageVerify(copy));
    expect(found[0]).toMatch(
      new RegExp(
        `^event ${lineageEventFileName(at + 1)} \\(.+\\): records sequence ${at} but is stored as ${at + 1}: events were moved or reordered$`,
      ),
    );
    expect(found[1]).toMatch(`is not the sha256 of event ${lineageEventFileName(at)}`);
  });

  it('two events swapped are out of order and out of chain', async () => {
    const copy = await copyOfWarehouse();
    const [a, b] = [await eventPath(copy, 5), await eventPath(copy, 6)];
    const [textA, textB] = [await readFile(a), await readFile(b)];
    await writeFile(a, textB);
    await writeFile(b, textA);
    const found = lines(await lineageVerify(copy));
    expect(found).toContainEqual(
      expect.stringMatching(/^event 000000000005\.json .*records sequence 6 but is stored as 5/),
    );
    expect(found).toContainEqual(
      expect.stringMatching(/^event 000000000006\.json .*records sequence 5 but is stored as 6/),
    );
    expect(found).toContainEqual(
      expect.stringMatching(/^event 000000000007\.json .*is not the sha256 of event 000000000006/),
    );
  });

  it('a history rewritten with every hash recomputed is caught against a head kept elsewhere', async () => {
    const copy = await copyOfWarehouse();
    const head = (await readLineageHead(copy))!;
    const folder = warehouseLayout(copy).lineageEvents;
    const names = await eventFiles(copy);
    let previous: string | null = null;
    for (const name of names) {
      const event = JSON.parse(await readFile(join(folder, name), 'utf8'));
      event.previousSha256 = previous;
      if (event.job.name === 'train' && event.eventType === 'COMPLETE') event.facets.seeds!.init = 1;
      const text = `${JSON.stringify(event)}\n`;
      await writeFile(join(folder, name), text);
      previous = sha256(text);
    }
    expect(lines(await lineageVerify(copy))).toEqual([]);
    expect(lines(await lineageVerify(copy, { expectedHead: head }))).toEqual([
      expect.stringMatching(
        `^event ${lineageEventFileName(head.sequence)} \\(report run .+\\): the expected head recorded sha256 ${head.sha256.slice(0, 16)}, the event now has [0-9a-f]{16}: history was rewritten$`,
      ),
    ]);
  });

  it('a file in the events folder outside the chain is named', async () => {
    const copy = await copyOfWarehouse();
    await writeFile(join(warehouseLayout(copy).lineageEvents, 'legacy_event.json'), '{}\n');
    expect(lines(await lineageVerify(copy))).toEqual([
      'event legacy_event.json: not a chained event file (events are named <12-digit sequence>.json)',
    ]);
  });
});

describe('lineage verify: tampered data files', () => {
  const kinds: Array<[string, () => string, string]> = [
    ['records part', () => 'data/main/records/part-0.parquet', 'ingest'],
    ['waveforms part', () => 'data/main/waveforms/part-0.parquet', 'ingest'],
    ['quarantine part', () => 'data/main/quarantine/part-0.parquet', 'ingest'],
    ['labels part', () => fixture.labelFile, 'labels'],
    ['features part', () => 'features/dlinear/w3f9a1-p77c2d0', 'features'],
    ['model weights', () => `models/${fixture.modelId}/model.safetensors`, 'train'],
    ['model manifest', () => `models/${fixture.modelId}/model.json`, 'train'],
    ['evaluation', () => fixture.evaluationFile, 'evaluate'],
    ['report html', () => `runs/${fixture.pipelineRunId}/report.html`, 'report'],
    ['report markdown', () => `runs/${fixture.pipelineRunId}/report.md`, 'report'],
  ];
  it.each(kinds)(
    'a byte flipped in the %s is named with the event that recorded it',
    async (_, path, job) => {
      const copy = await copyOfWarehouse();
      const recorded = path();
      // Folder datasets (ingest's, the feature set's) are checked by their listing: flip a byte in a file of theirs.
      const file =
        recorded.endsWith('.parquet') || recorded.includes('.') ? recorded : `${recorded}/part-0.parquet`;
      await flipByte(join(copy, file));
      expect(lines(await lineageVerify(copy))).toEqual([
        expect.stringMatching(
          new RegExp(
            `^event \\d{12}\\.json \\(${job} run [^)]+\\): ${recorded.replaceAll('.', '\\.')}: sha256 recorded [0-9a-f]{16}, now [0-9a-f]{16}$`,
          ),
        ),
      ]);
    },
  );

  it('an orphan part (a data file no event names) and a missing one are both named', async () => {
    const copy = await copyOfWarehouse();
    await writeFile(join(copy, 'data', 'main', 'labels', 'part-1.parquet'), 'PAR1');
    await cp(join(copy, 'models', fixture.modelId), join(copy, 'models', 'moe-smuggled'), {
      recursive: true,
    });
    await rm(join(copy, fixture.evaluationFile));
    const smuggledEvaluation = fixture.evaluationFile.replace(fixture.modelId, 'moe-smuggled');
    expect(lines(await lineageVerify(copy))).toEqual([
      expect.stringMatching(
        new RegExp(
          `\\(evaluate run evaluate-42\\): ${fixture.evaluationFile.replaceAll('.', '\\.')}: recorded with sha256 [0-9a-f]{16}, the file is gone$`,
        ),
      ),
      'data/main/labels/part-1.parquet: a data file no lineage event names',
      `${smuggledEvaluation}: a data file no lineage event names`,
      'models/moe-smuggled/model.json: a data file no lineage event names',
      'models/moe-smuggled/model.safetensors: a data file no lineage event names',
    ]);
  });
});

/** Runs two appender processes at once on the warehouse; returns the run of each event they appended, in order. */
async function race(warehouse: string, perProcess: number): Promise<string[]> {
  const before = (await eventFiles(warehouse)).length;
  const startAt = String(Date.now() + 3000);
  await Promise.all(
    ['a', 'b'].map(
      (name) =>
        new Promise<void>((resolve, reject) => {
          const args = ['--import', 'tsx', APPENDER, warehouse, name, String(perProcess), startAt];
          const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (chunk) => {
            stderr += chunk;
          });
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(stderr))));
        }),
    ),
  );
  const order: string[] = [];
  for (const name of (await eventFiles(warehouse)).slice(before)) {
    const event = JSON.parse(await readFile(join(warehouseLayout(warehouse).lineageEvents, name), 'utf8'));
    order.push(event.run.runId);
  }
  return order;
}

describe('concurrent appenders', () => {
  it('two processes appending at once leave one unbroken chain with every event', async () => {
    const perProcess = 100;
    let interleaved = false;
    // On a loaded machine one process may finish before the other starts; race again until they overlap.
    for (let attempt = 0; attempt < 4 && !interleaved; attempt++) {
      const copy = await copyOfWarehouse();
      const before = (await eventFiles(copy)).length;
      const order = await race(copy, perProcess);
      const answer = await lineageVerify(copy);
      expect(lines(answer)).toEqual([]);
      expect(answer.events).toBe(before + 2 * perProcess);
      expect(order.filter((run) => run === 'appender-a')).toHaveLength(perProcess);
      expect(order.filter((run) => run === 'appender-b')).toHaveLength(perProcess);
      // One process's events all before the other's is one switch; an overlap makes more.
      interleaved = order.filter((run, index) => index > 0 && run !== order[index - 1]).length > 1;
    }
    expect(interleaved).toBe(true);
  }, 240_000);
});
