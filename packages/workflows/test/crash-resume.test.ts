import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CPU_TASK_QUEUE,
  connectClient,
  createActivities,
  createPipelineWorker,
  type PipelineConfig,
  type PipelineResult,
  runPipelineLocally,
  startPipeline,
  validatePipelineConfig,
} from '../src/index.ts';

let root: string;
let source: string;
let child: ChildProcess | undefined;

function configFor(warehouse: string): PipelineConfig {
  return validatePipelineConfig({
    source,
    hosp: join(source, 'hosp'),
    warehouse,
    experts: [{ name: 'timesnet' }],
    ingest: { shards: 1, batchSize: 16 },
    features: { batchSize: 4, partRows: 4 },
    training: { maxEpochs: 2 },
    evaluation: { replicates: 20 },
  });
}

async function featureParts(warehouse: string): Promise<Map<string, string>> {
  const parts = new Map<string, string>();
  const dir = join(warehouse, 'features', 'timesnet');
  if (!existsSync(dir)) return parts;
  for (const set of await readdir(dir)) {
    for (const file of await readdir(join(dir, set))) {
      if (!file.endsWith('.parquet')) continue;
      const path = join(dir, set, file);
      const info = await stat(path);
      parts.set(path, `${info.ino}:${info.mtimeMs}`);
    }
  }
  return parts;
}

/** The processes `pid` started (the worker's stage processes). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function modelFingerprint(result: PipelineResult) {
  const evaluation = JSON.parse(await readFile(result.evaluationPath, 'utf8')) as { tasks: unknown };
  return {
    modelId: result.model.modelId,
    weights: await sha256File(join(result.model.modelDir, 'model.safetensors')),
    tasks: evaluation.tasks,
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-crash-'));
  source = join(root, 'source');
  await generateSynthetic({ subjects: 16, outDir: source, seed: 5, layout: 'v1' });
});

afterAll(() => {
  child?.kill('SIGKILL');
});

describe('a worker killed during feature caching', () => {
  it('leaves no stage process running, and a run that a new worker completes without recomputing finished parts, identical to an uninterrupted run', async () => {
    const address = inject('temporalAddress');
    const reference = await runPipelineLocally({ config: configFor(join(root, 'uninterrupted')), address });

    const warehouse = join(root, 'interrupted');
    child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'worker-process.ts')], {
      env: { ...process.env, TEMPORAL_ADDRESS: address },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const client = await connectClient(address);
    const handle = await startPipeline(client, configFor(warehouse));

    let survivors = new Map<string, string>();
    const deadline = Date.now() + 300_000;
    while (survivors.size < 2) {
      if (Date.now() > deadline) throw new Error('the worker process wrote no feature parts within 300 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
      survivors = await featureParts(warehouse);
    }
    const stageProcesses = childrenOf(child.pid as number);
    expect(stageProcesses.length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((resolve) => child?.once('exit', resolve));
    // Its stage processes notice and exit rather than write beside the retry.
    const orphansDeadline = Date.now() + 5_000;
    while (stageProcesses.some(alive) && Date.now() < orphansDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stageProcesses.filter(alive)).toEqual([]);

    const replacement = await createPipelineWorker({
      address,
      taskQueue: CPU_TASK_QUEUE,
      activities: createActivities(),
    });
    const resumed = await replacement.runUntil(handle.result());
    await client.connection.close();

    const after = await featureParts(warehouse);
    for (const [path, identity] of survivors) expect(after.get(path)).toBe(identity);
    expect(resumed.features.find((f) => f.expert === 'timesnet')?.computed).toBeLessThan(
      resumed.ingest.listed,
    );
    expect(await modelFingerprint(resumed)).toEqual(await modelFingerprint(reference));
  }, 900_000);
});
