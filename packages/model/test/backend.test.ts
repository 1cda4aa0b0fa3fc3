import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, EnvironmentError } from '@enecg/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  activeBackend,
  backendLabel,
  installedBackends,
  nativeBuildStatus,
  parseBackendChoice,
  selectBackend,
  tf,
  withBackend,
  withKernelFallback,
} from '../src/backend/index.ts';

// The build `auto` loads: the GPU one when setup made it (it runs on the CPU without a GPU).
const native = nativeBuildStatus(nativeBuildStatus('gpu').ready ? 'gpu' : 'cpu');
const switchValue = process.env.ENECG_NATIVE_BACKEND;

afterEach(() => {
  if (switchValue === undefined) delete process.env.ENECG_NATIVE_BACKEND;
  else process.env.ENECG_NATIVE_BACKEND = switchValue;
});

describe('backend selection', () => {
  it('auto picks the native build when setup made one, else wasm, and records package and version', async () => {
    const info = await selectBackend('auto');
    if (native.ready) {
      expect(info).toMatchObject({
        choice: installedBackends()[0],
        tfBackend: 'tensorflow',
        package: native.record.package,
        tensorflow: native.record.tensorflow,
      });
      expect(info.threads!.intraOp).toBeGreaterThanOrEqual(1);
      expect(backendLabel(info)).toMatch(
        /^node(-gpu)? \(@tensorflow\/tfjs-node(-gpu)?@4\.22\.0 on TensorFlow 2\.21\.0/,
      );
    } else {
      expect(info).toMatchObject({
        choice: 'wasm',
        tfBackend: 'wasm',
        package: '@tensorflow/tfjs-backend-wasm',
      });
    }
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(activeBackend()).toEqual(info);
  });

  it.skipIf(!native.ready)(
    'loads the native build whatever the command line says (node-pre-gyp reads process.argv)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'enecg-argv-'));
      const script = join(dir, 'select.mts');
      const backend = new URL('../src/backend/index.ts', import.meta.url).href;
      writeFileSync(
        script,
        `import { selectBackend } from '${backend}';\nprocess.stdout.write((await selectBackend('node')).tfBackend);\n`,
      );
      const tsx = createRequire(import.meta.url).resolve('tsx/cli');
      const run = spawnSync(process.execPath, [tsx, script, 'demo', '--dir', dir], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(run.stdout).toBe('tensorflow');
    },
    60_000,
  );

  it('ENECG_NATIVE_BACKEND=0 makes auto run on wasm even with a native build installed', async () => {
    process.env.ENECG_NATIVE_BACKEND = '0';
    expect(installedBackends()).toEqual(['wasm', 'cpu']);
    const info = await selectBackend('auto');
    expect(info).toMatchObject({ choice: 'wasm', tfBackend: 'wasm' });
    expect(backendLabel(info)).toMatch(/^wasm \(@tensorflow\/tfjs-backend-wasm@4\.22\.0\)$/);
    await expect(selectBackend('node')).rejects.toThrow(
      /ENECG_NATIVE_BACKEND=0 turns the native backend off/,
    );
  });

  it('a forced native backend that is not built is an environment error saying what to run', async () => {
    const error = await selectBackend('node-gpu').catch((e: unknown) => e);
    if (nativeBuildStatus('gpu').ready) return; // a GPU build exists here: nothing to refuse
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(String(error)).toMatch(
      /tfjs-node-gpu has not been built by setup.*What to do: run `npx enecg setup --gpu`/s,
    );
  });

  it('cpu can be forced', async () => {
    expect((await selectBackend('cpu')).tfBackend).toBe('cpu');
  });

  it('runs a kernel the wasm backend lacks on cpu and records it', async () => {
    await selectBackend('wasm');
    const spectrum = withKernelFallback('RFFT', () =>
      tf.abs(tf.spectral.rfft(tf.tensor1d([1, 0, -1, 0]))).arraySync(),
    );
    expect(spectrum).toEqual([0, 2, 0]);
    expect(tf.getBackend()).toBe('wasm');
    expect(activeBackend()!.fallbackKernels).toEqual(['RFFT']);
  });

  it('a stage on another backend waits for the stages holding the current one instead of switching it', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = withBackend('cpu', async () => {
      await held;
      seen.push(`first on ${tf.getBackend()}`);
    });
    const other = withBackend('wasm', async () => {
      seen.push(`other on ${tf.getBackend()}`);
    });
    const same = withBackend('cpu', async () => {
      seen.push(`same on ${tf.getBackend()}`);
    });
    await same;
    expect(seen).toEqual(['same on cpu']);
    release();
    await Promise.all([first, other]);
    expect(seen).toEqual(['same on cpu', 'first on cpu', 'other on wasm']);
  });

  it('refuses an unknown choice naming the key', () => {
    expect(() => parseBackendChoice('gpu')).toThrow(ConfigError);
    expect(() => parseBackendChoice('gpu')).toThrow(/^backend:/);
  });

  it('refuses an unknown ENECG_NATIVE_BACKEND value naming the variable', () => {
    process.env.ENECG_NATIVE_BACKEND = 'yes';
    expect(() => installedBackends()).toThrow(/^ENECG_NATIVE_BACKEND: "yes" is not one of cpu, gpu, 0/);
  });
});
