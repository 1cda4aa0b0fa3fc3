import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { sha256 } from '@enecg/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

let cwd: string;
let modelId: string;
/** The stored test evaluation, relative to the warehouse. */
let evaluationFile: string;

/** Runs a stage command in `cwd`, as a user would with a relative warehouse path, and parses its JSON. */
async function stage(args: string[]): Promise<Record<string, unknown>> {
  const result = await enecg([...args, '--json'], { cwd });
  if (result.code !== 0) throw new Error(`enecg ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function verify(warehouse: string): Promise<{ code: number; lines: string[] }> {
  const result = await enecg(['lineage', 'verify', '--warehouse', warehouse], { cwd });
  return {
    code: result.code,
    lines: result.stdout
      .split('\n')
      .filter((line) => line !== '' && !/^(events|head|checked|dataFiles|problems)\s/.test(line)),
  };
}

async function flipByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x01;
  await writeFile(file, bytes);
}

/** Every stage run from the command line against `wh`, a path relative to the working directory. */
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'enecg-cli-lineage-'));
  await stage(['synth', '--subjects', '24', '--out', 'source', '--seed', '5']);
  await stage(['ingest', '--source', 'source', '--warehouse', 'wh']);
  await stage(['labels', '--source', 'source', '--hosp', 'source/hosp', '--warehouse', 'wh']);
  await stage(['features', '--warehouse', 'wh', '--expert', 'dlinear']);
  await stage(['features', '--warehouse', 'wh', '--expert', 'raw-leads']);
  const trained = await stage([
    'train',
    '--warehouse',
    'wh',
    '--experts',
    'dlinear',
    '--run-id',
    'cli-train',
  ]);
  modelId = trained.modelId as string;
  const evaluated = await stage([
    'evaluate',
    '--warehouse',
    'wh',
    '--model',
    modelId,
    '--replicates',
    '20',
    '--run-id',
    'cli-train',
  ]);
  evaluationFile = relative(join(cwd, 'wh'), resolve(cwd, evaluated.evaluationPath as string));
  await stage(['report', 'cli-train', '--warehouse', 'wh']);
}, 240_000);

describe('enecg lineage verify over stages run from the command line with a relative warehouse', {
  timeout: 60_000,
}, () => {
  it('verifies clean in place and after the warehouse is copied elsewhere', async () => {
    expect(await verify('wh')).toEqual({ code: 0, lines: [] });
    await cp(join(cwd, 'wh'), join(cwd, 'moved', 'wh'), { recursive: true });
    expect(await verify(join(cwd, 'moved', 'wh'))).toEqual({ code: 0, lines: [] });
  });

  it('a copy with flipped bytes names each changed file; the original stays clean', async () => {
    const copy = join(cwd, 'tampered');
    await cp(join(cwd, 'wh'), copy, { recursive: true });
    const labelFiles = join(copy, 'data', 'main', 'labels');
    const labelSet = (await readdir(labelFiles)).find((name) => /^labels-\w+\.parquet$/.test(name))!;
    await flipByte(join(labelFiles, labelSet));
    await flipByte(join(copy, 'models', modelId, 'model.safetensors'));
    await flipByte(join(copy, evaluationFile));
    const { code, lines } = await verify(copy);
    expect(code).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(
        /^event \d{12}\.json \(labels run [^)]+\): data\/main\/labels\/labels-\w+\.parquet: sha256 recorded/,
      ),
      expect.stringMatching(
        new RegExp(
          `^event \\d{12}\\.json \\(evaluate run [^)]+\\): ${evaluationFile.replaceAll('.', '\\.')}: sha256 recorded`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^event \\d{12}\\.json \\(train run cli-train\\): models/${modelId}/model\\.safetensors: sha256 recorded`,
        ),
      ),
    ]);
    expect((await verify('wh')).code).toBe(0);
  });

  it('a history rewritten with every hash recomputed is caught against the head in the model manifest', async () => {
    const copy = join(cwd, 'rewritten');
    await cp(join(cwd, 'wh'), copy, { recursive: true });
    const folder = join(copy, 'lineage', 'events');
    let previous: string | null = null;
    for (const name of (await readdir(folder)).sort()) {
      const event = JSON.parse(await readFile(join(folder, name), 'utf8'));
      event.previousSha256 = previous;
      if (event.job.name === 'labels' && event.eventType === 'COMPLETE') event.facets.config.seed = 1;
      const text = `${JSON.stringify(event)}\n`;
      await writeFile(join(folder, name), text);
      previous = sha256(text);
    }
    const { code, lines } = await verify(copy);
    expect(code).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^event \\d{12}\\.json \\(train run cli-train\\): models/${modelId}/model\\.json: the model manifest recorded sha256 [0-9a-f]{16}, the event now has [0-9a-f]{16}: history was rewritten$`,
        ),
      ),
    ]);
  });

  it('evaluating and reporting again add or reuse files, never rewrite one, and verify stays clean', async () => {
    const before = await artifactHashes(join(cwd, 'wh'));
    const evaluateAgain = (replicates: string, runId: string) =>
      stage([
        'evaluate',
        '--warehouse',
        'wh',
        '--model',
        modelId,
        '--replicates',
        replicates,
        '--run-id',
        runId,
      ]);
    const same = await evaluateAgain('20', 'cli-again');
    expect(same).toMatchObject({ reused: true });
    expect(relative(join(cwd, 'wh'), resolve(cwd, same.evaluationPath as string))).toBe(evaluationFile);
    // More replicates within the run: another evaluation, so the run's report is added beside the first.
    const more = await evaluateAgain('30', 'cli-train');
    expect(more).toMatchObject({ reused: false });
    const report = await stage(['report', 'cli-train', '--warehouse', 'wh']);
    expect(report.html).toMatch(/runs\/cli-train\/report-[0-9a-f]{16}\.html$/);
    const after = await artifactHashes(join(cwd, 'wh'));
    for (const [file, hash] of before) expect(after.get(file), file).toBe(hash);
    expect([...after.keys()].filter((file) => !before.has(file)).sort()).toEqual(
      [
        relative(join(cwd, 'wh'), resolve(cwd, more.evaluationPath as string)),
        relative(join(cwd, 'wh'), resolve(cwd, report.html as string)),
        relative(join(cwd, 'wh'), resolve(cwd, report.markdown as string)),
      ].sort(),
    );
    expect(await verify('wh')).toEqual({ code: 0, lines: [] });
  });
});

/** sha256 of every file a stage wrote (the lake's data files, labels included, models, runs, features), by relative path. */
async function artifactHashes(warehouse: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const folder of ['data', 'features', 'models', 'runs']) {
    for (const entry of await readdir(join(warehouse, folder), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.parentPath.includes('commit_gates')) continue;
      const file = join(entry.parentPath, entry.name);
      hashes.set(relative(warehouse, file), sha256(await readFile(file)));
    }
  }
  return hashes;
}
