import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, realpathSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  linkProjectTfjs,
  NATIVE_RECIPES,
  NATIVE_SWITCH,
  type NativeBuildRecord,
  type NativeRecipe,
  type NativeVariant,
  nativeBackendSetting,
  nativeBuildDir,
  nativeBuildStatus,
} from './native.ts';

export interface NativeSetupResult {
  variant: NativeVariant;
  status: 'built' | 'cached' | 'skipped' | 'failed';
  dir: string;
  /** Why it was skipped or failed: one line. */
  reason?: string;
  seconds: number;
  record?: NativeBuildRecord;
}

/** A step that failed, and why, in one line; the step's full output is in `log`. */
class SetupStepError extends Error {
  constructor(
    readonly step: string,
    reason: string,
    readonly log?: string,
  ) {
    super(`${step}: ${reason}`);
  }
}

// The wheels hold the same shared libraries for every CPython; pinning one wheel keeps the hashes valid
// whatever python3 runs pip.
const WHEEL_TARGET = [
  '--only-binary=:all:',
  '--no-deps',
  '--python-version',
  '3.11',
  '--implementation',
  'cp',
  '--abi',
  'cp311',
  ...[
    'manylinux_2_27_x86_64',
    'manylinux_2_25_x86_64',
    'manylinux_2_17_x86_64',
    'manylinux2014_x86_64',
    'manylinux_2_12_x86_64',
    'manylinux2010_x86_64',
  ].flatMap((p) => ['--platform', p]),
];

/** Extracts what the addon links against from the wheels into deps/ (the layout binding.gyp expects). */
const EXTRACT_WHEELS = `
import sys, zipfile, glob, os, shutil
wheels, deps = sys.argv[1:3]
keep = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
        'tensorflow/include/tsl/platform/', 'tensorflow/include/xla/tsl/c/')
libs = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2')
def copy(z, name, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with z.open(name) as s, open(dst, 'wb') as d:
        shutil.copyfileobj(s, d, 1 << 20)
found = 0
for wheel in glob.glob(os.path.join(wheels, '*.whl')):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.endswith('/'):
                continue
            if name in libs:
                copy(z, name, os.path.join(deps, 'lib', os.path.basename(name))); found += 1
            elif name.startswith(keep):
                copy(z, name, os.path.join(deps, 'include', name[len('tensorflow/include/'):]))
            elif name.startswith('nvidia/') and '/include/' not in name:
                copy(z, name, os.path.join(deps, name))  # deps/nvidia/<pkg>/lib: the library's RUNPATH
if found != 2:
    sys.exit('the wheel lacks libtensorflow_cc.so.2 / libtensorflow_framework.so.2')
`;

const SMOKE_TEST = `
const { createRequire } = require('node:module');
const tf = createRequire(process.argv[1])(process.argv[2]);
if (tf.getBackend() !== 'tensorflow') throw new Error('backend is ' + tf.getBackend());
const y = Array.from(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])).dataSync());
if (String(y) !== '19,22,43,50') throw new Error('matMul gave ' + y);
const backend = tf.backend();
process.stdout.write(JSON.stringify({ tensorflow: backend.binding.TF_Version, gpu: backend.isUsingGpuDevice }));
`;

interface RunOptions {
  cwd?: string;
  log: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command, appending its output to the step log; resolves with stdout. */
function run(step: string, command: string, args: readonly string[], options: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const logStream = createWriteStream(options.log, { flags: 'a' });
    logStream.write(`\n$ ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      logStream.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
      logStream.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      logStream.end();
      reject(new SetupStepError(step, `${command} could not start (${error.message})`, options.log));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      logStream.end();
      if (code === 0) return resolve(stdout);
      const lines = `${stdout}\n${stderr}`
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      const last =
        lines.filter((line) => /error|fail|not found|no module|cannot|denied/i.test(line)).at(-1) ??
        lines.at(-1) ??
        `exit ${code ?? signal}`;
      const why = signal ? `timed out after ${options.timeoutMs / 1000} s` : last.slice(0, 200);
      reject(new SetupStepError(step, why, options.log));
    });
  });
}

async function onPath(command: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return dirs.some((dir) => existsSync(join(dir, command)));
}

/** node-gyp must find the headers of the running node locally; otherwise it would download them. */
function nodeHeadersDir(): string {
  const prefix = dirname(dirname(realpathSync(process.execPath)));
  if (!existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    throw new SetupStepError(
      'prerequisites',
      `no node headers under ${join(prefix, 'include', 'node')} (install the Node.js development headers)`,
    );
  }
  return prefix;
}

async function checkPrerequisites(): Promise<string> {
  const compiler = process.env.CXX ?? 'g++';
  for (const [command, what] of [
    ['python3', 'python3 with pip'],
    [compiler, `a C++ compiler (${compiler})`],
    ['make', 'make'],
    ['tar', 'tar'],
  ] as const) {
    if (!(await onPath(command))) throw new SetupStepError('prerequisites', `${what} is not on PATH`);
  }
  return nodeHeadersDir();
}

async function sha512Base64(path: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const runtimeManifests = fileURLToPath(new URL('../../native/', import.meta.url));

/** Every step of a cold build, into `stage` (renamed into place by the caller). */
async function build(recipe: NativeRecipe, stage: string, log: (line: string) => void): Promise<void> {
  const logFile = join(stage, 'setup.log');
  const nodeDir = await checkPrerequisites();
  const packageDir = join(stage, 'node_modules', recipe.package);

  const [first, ...others] = recipe.wheels.map((w) => `${w.name}==${w.version}`);
  log(`downloading the pinned ${first} wheel${others.length ? ` and ${others.length} more (CUDA 12)` : ''}`);
  const wheels = join(stage, 'wheels');
  await mkdir(wheels);
  const requirements = join(wheels, 'requirements.txt');
  await writeFile(
    requirements,
    recipe.wheels.map((w) => `${w.name}==${w.version} --hash=sha256:${w.sha256}\n`).join(''),
  );
  await run(
    'pip download',
    'python3',
    ['-m', 'pip', 'download', '-q', '--require-hashes', ...WHEEL_TARGET, '-r', requirements, '-d', wheels],
    { log: logFile, timeoutMs: 60 * 60_000, env: { PIP_DISABLE_PIP_VERSION_CHECK: '1' } },
  );

  log(`installing ${recipe.package}@${recipe.version} without its install script`);
  await copyFile(join(runtimeManifests, 'runtime-package.json'), join(stage, 'package.json'));
  await copyFile(join(runtimeManifests, 'runtime-package-lock.json'), join(stage, 'package-lock.json'));
  await run('npm ci', 'npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: stage,
    log: logFile,
    timeoutMs: 15 * 60_000,
  });
  const packed = JSON.parse(
    await run(
      'npm pack',
      'npm',
      [
        'pack',
        `${recipe.package}@${recipe.version}`,
        '--ignore-scripts',
        '--json',
        '--pack-destination',
        stage,
      ],
      { cwd: stage, log: logFile, timeoutMs: 15 * 60_000 },
    ),
  ) as { filename: string }[];
  const tarball = join(stage, packed[0]!.filename);
  const integrity = `sha512-${await sha512Base64(tarball)}`;
  if (integrity !== recipe.integrity) {
    throw new SetupStepError(
      'npm pack',
      `${tarball} has integrity ${integrity}, expected ${recipe.integrity}`,
    );
  }
  await mkdir(packageDir, { recursive: true });
  await run('unpack', 'tar', ['xzf', tarball, '-C', packageDir, '--strip-components=1'], {
    log: logFile,
    timeoutMs: 5 * 60_000,
  });
  await rm(tarball);
  linkProjectTfjs(stage);

  log('laying out libtensorflow and its C headers from the wheel(s)');
  const deps = join(packageDir, 'deps');
  await run('extract', 'python3', ['-c', EXTRACT_WHEELS, wheels, deps], {
    log: logFile,
    timeoutMs: 30 * 60_000,
  });
  await rm(wheels, { recursive: true });
  // -ltensorflow finds libtensorflow.so; the C API lives in libtensorflow_cc.so.2 since TF 2.10.
  await symlink('libtensorflow_cc.so.2', join(deps, 'lib', 'libtensorflow.so'));
  await symlink('libtensorflow_framework.so.2', join(deps, 'lib', 'libtensorflow_framework.so'));

  log('compiling the addon (node-gyp, local node headers)');
  await run(
    'compile',
    join(stage, 'node_modules', '.bin', 'node-pre-gyp'),
    ['install', '--build-from-source', `--nodedir=${nodeDir}`],
    { cwd: packageDir, log: logFile, timeoutMs: 30 * 60_000 },
  );
  await rm(join(packageDir, 'build'), { recursive: true, force: true });
}

/** Loads the build in a child process (a broken library cannot take setup down) and runs one matMul. */
async function smokeTest(recipe: NativeRecipe, dir: string): Promise<{ tensorflow: string; gpu: boolean }> {
  const out = await run(
    'smoke test',
    process.execPath,
    ['-e', SMOKE_TEST, join(dir, 'package.json'), recipe.package],
    { log: join(dir, 'setup.log'), timeoutMs: 5 * 60_000, env: { TF_CPP_MIN_LOG_LEVEL: '2' } },
  );
  return JSON.parse(out) as { tensorflow: string; gpu: boolean };
}

/** Staging folders of setups that were killed (their process is gone) hold up to a GiB each. */
async function removeAbandonedStages(dir: string): Promise<void> {
  const prefix = `${basename(dir)}.partial-`;
  for (const entry of await readdir(dirname(dir)).catch(() => [] as string[])) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await rm(join(dirname(dir), entry), { recursive: true, force: true });
  }
}

function matchesRecipe(record: NativeBuildRecord, recipe: NativeRecipe): boolean {
  return (
    record.package === recipe.package &&
    record.version === recipe.version &&
    record.tensorflow === recipe.tensorflow
  );
}

/**
 * Builds the native backend into `.tools/` (see native.ts), or checks the build already there: a
 * cached build is re-linked to the project's tfjs and smoke-tested in a second or two. A cold build
 * downloads the pinned wheel(s) (sha256) and the npm tarball (integrity), compiles the addon in a
 * staging folder and renames it into place, so a crash or a concurrent setup never leaves a half
 * build where the backend looks for one. Never throws: a failure is reported in one line.
 */
export async function setupNativeBackend(
  variant: NativeVariant,
  log: (line: string) => void = () => {},
): Promise<NativeSetupResult> {
  const started = performance.now();
  const recipe = NATIVE_RECIPES[variant];
  const dir = nativeBuildDir(variant);
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  if (!nativeBackendSetting().enabled) {
    return { variant, status: 'skipped', dir, reason: `${NATIVE_SWITCH}=0`, seconds: seconds() };
  }
  const existing = nativeBuildStatus(variant);
  if (existing.ready && matchesRecipe(existing.record, recipe)) {
    try {
      linkProjectTfjs(dir);
      await smokeTest(recipe, dir);
      return { variant, status: 'cached', dir, seconds: seconds(), record: existing.record };
    } catch (error) {
      log(`the build in ${dir} no longer loads (${(error as Error).message}); rebuilding`);
    }
  }
  const stage = `${dir}.partial-${process.pid}`;
  try {
    await removeAbandonedStages(dir);
    await rm(stage, { recursive: true, force: true });
    await mkdir(stage, { recursive: true });
    await build(recipe, stage, log);
    const smoke = await smokeTest(recipe, stage);
    const record: NativeBuildRecord = {
      variant,
      package: recipe.package,
      version: recipe.version,
      tensorflow: smoke.tensorflow,
      builtAt: new Date().toISOString(),
      node: process.version,
      buildSeconds: seconds(),
      diskBytes: await diskBytes(stage),
    };
    await writeFile(join(stage, 'ready.json'), `${JSON.stringify(record, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(stage, dir);
    // The links point into the project, not into the stage, so they survive the rename unchanged.
    return { variant, status: 'built', dir, seconds: seconds(), record };
  } catch (error) {
    const reason =
      error instanceof SetupStepError
        ? `${error.message}${error.log ? ` (log: ${join(dir, 'setup.log')})` : ''}`
        : (error as Error).message;
    if (error instanceof SetupStepError && error.log && existsSync(error.log)) {
      await mkdir(dir, { recursive: true });
      await copyFile(error.log, join(dir, 'setup.log')).catch(() => undefined);
      await rm(join(dir, 'ready.json'), { force: true });
    }
    await rm(stage, { recursive: true, force: true });
    return { variant, status: 'failed', dir, reason: reason.replaceAll('\n', ' '), seconds: seconds() };
  }
}

/** The one-line message setup prints for a result (undefined for a cached build: nothing to say). */
export function describeNativeSetup(result: NativeSetupResult): string | undefined {
  const name = NATIVE_RECIPES[result.variant].package;
  switch (result.status) {
    case 'cached':
      return undefined;
    case 'built':
      return `native TensorFlow backend ready: ${name}@${result.record!.version} on TensorFlow ${result.record!.tensorflow} (${(result.record!.diskBytes / 2 ** 20).toFixed(0)} MiB in ${result.dir}) in ${result.seconds} s`;
    case 'skipped':
      return `native TensorFlow backend skipped (${result.reason}); the pipeline runs on wasm`;
    case 'failed':
      return `${name} not built: ${result.reason}; ${result.variant === 'gpu' ? 'features run on the CPU build' : 'the pipeline runs on wasm'} (${NATIVE_SWITCH}=0 skips this step)`;
  }
}
