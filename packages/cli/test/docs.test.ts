import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectClient, connectOrStartServer, type TemporalServer } from '@enecg/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, enecg } from './enecg.ts';

/**
 * Every command line in README.md and docs/cli.md runs here, as written and in order, in a copy of the
 * repository layout whose `.work/demo` this test builds with `enecg demo` (over 12 synthetic subjects, so
 * it stays CI-sized). A doc example that fails, or whose `--json` output does not parse, fails the test.
 */

const REPO = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);

/** Lines of ```sh blocks with continuations joined; comment-only and blank lines left out. */
function shellCommands(markdown: string): Array<{ line: number; command: string }> {
  const commands: Array<{ line: number; command: string }> = [];
  const lines = markdown.split('\n');
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (/^```/.test(text)) {
      inBlock = !inBlock && text.trim() === '```sh';
      continue;
    }
    if (!inBlock || text.trim() === '' || text.trim().startsWith('#')) continue;
    let command = text;
    const start = i + 1;
    while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)}${lines[++i]}`;
    commands.push({ line: start, command });
  }
  return commands;
}

/** What only set-up or the suite itself runs (the demo's command runs here as `enecg demo`). */
const NOT_ENECG = new Set(['npm run demo', 'npm test']);
/** Commands that run until interrupted, and the line that says they are up. */
const UNTIL_READY: Array<[RegExp, string]> = [
  [/\benecg worker\b/, 'worker polling'],
  [/\benecg server\b/, 'Temporal dev server ready'],
];

const PRELUDE = `
set -o pipefail
npx() { if [ "$1" = enecg ]; then shift; node "$ENECG_BIN" "$@"; else command npx "$@"; fi; }
export -f npx
# Runs the command on stdin until it prints the pattern, then stops it as Ctrl-C would.
until_ready() {
  local log="$1.log" pattern="$2"
  setsid bash -c "$(cat)" > "$log" 2>&1 &
  local pid=$!
  for _ in $(seq 240); do
    if grep -q "$pattern" "$log"; then kill -INT -- "-$pid"; wait "$pid"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; return 1; fi
    sleep 0.5
  done
  kill -KILL -- "-$pid"; cat "$log" >&2; return 1
}
`;

function script(commands: ReadonlyArray<{ command: string }>, out: string): string {
  const steps = commands.map(({ command }, i) => {
    const ready = UNTIL_READY.find(([pattern]) => pattern.test(command));
    const body = ready
      ? `until_ready ${out}/${i} '${ready[1]}' <<'ENECG_DOC_COMMAND'\n${command}\nENECG_DOC_COMMAND`
      : command;
    return `{\n${body}\n} > ${out}/${i}.out 2> ${out}/${i}.err\ncode=$?; echo $code > ${out}/${i}.code\n[ $code = 0 ] || exit 1`;
  });
  return `${PRELUDE}\n${steps.join('\n')}\n`;
}

let root: string;
let demoServer: TemporalServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'enecg-docs-'));
  await cp(join(REPO, 'configs'), join(root, 'configs'), { recursive: true });
  // The documented data folder, small: `enecg demo` uses the data it finds there.
  const synth = await enecg(
    ['synth', '--subjects', '12', '--seed', '42', '--out', '.work/demo/synthetic-120'],
    {
      cwd: root,
    },
  );
  expect(synth.code, synth.stderr).toBe(0);
  demoServer = await connectOrStartServer({ dbFile: ':memory:' });
  const demo = await enecg(['demo', '--json'], { cwd: root, env: { TEMPORAL_ADDRESS: demoServer.address } });
  expect(demo.code, demo.stderr).toBe(0);
}, 600_000);

afterAll(async () => {
  await demoServer?.stop();
});

/** Runs a document's commands in order in one shell (so variables carry over) and checks each. */
async function runDocument(file: string, server: TemporalServer): Promise<void> {
  const commands = shellCommands(await readFile(join(REPO, file), 'utf8'));
  const skipped = commands.filter(({ command }) => !/\benecg\b/.test(command));
  expect(
    skipped.map(({ command }) => command.split('#')[0]!.trim()).filter((c) => !NOT_ENECG.has(c)),
  ).toEqual([]);
  const executed = commands.filter(({ command }) => /\benecg\b/.test(command));
  const out = join(root, '.work', 'doc-outputs', file.replaceAll('/', '_'));
  await mkdir(out, { recursive: true });
  const path = join(out, 'commands.sh');
  await writeFile(path, script(executed, out));
  await run('bash', [path], {
    cwd: root,
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, ENECG_BIN: BIN },
    maxBuffer: 64 * 1024 * 1024,
  }).catch(() => {});
  for (const [i, { line, command }] of executed.entries()) {
    const where = `${file}:${line}: ${command}`;
    expect(existsSync(join(out, `${i}.code`)), `${where} did not run`).toBe(true);
    const code = Number(await readFile(join(out, `${i}.code`), 'utf8'));
    const stderr = await readFile(join(out, `${i}.err`), 'utf8');
    expect(code, `${where}\n${stderr}`).toBe(0);
    if (/--json\b/.test(command) && !command.includes('|')) {
      const stdout = await readFile(join(out, `${i}.out`), 'utf8');
      expect(() => JSON.parse(stdout), `${where} printed no JSON document:\n${stdout}`).not.toThrow();
    }
  }
}

describe('the documented command lines', () => {
  it('README.md: every example runs', async () => {
    // First, on the demo's warehouse as the demo left it; on its own server, so that the README's
    // schedule and sweep do not meet docs/cli.md's.
    const server = await connectOrStartServer({ dbFile: ':memory:' });
    try {
      await runDocument('README.md', server);
    } finally {
      await server.stop();
    }
  }, 900_000);

  it('docs/cli.md: every example runs against the demo warehouse', async () => {
    await runDocument('docs/cli.md', demoServer);
    // Schedules outlive the command; remove the documented one so the server stops clean.
    const client = await connectClient(demoServer.address);
    for await (const schedule of client.schedule.list())
      await client.schedule.getHandle(schedule.scheduleId).delete();
    await client.connection.close();
  }, 900_000);
});
