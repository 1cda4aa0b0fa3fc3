import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeNativeSetup, nativeBuildStatus, setupNativeBackend } from '../src/backend/index.ts';

const saved = {
  tools: process.env.ENECG_TOOLS_DIR,
  cxx: process.env.CXX,
  native: process.env.ENECG_NATIVE_BACKEND,
};
afterEach(() => {
  for (const [key, value] of [
    ['ENECG_TOOLS_DIR', saved.tools],
    ['CXX', saved.cxx],
    ['ENECG_NATIVE_BACKEND', saved.native],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('native backend setup', () => {
  it('fails in one line naming the missing prerequisite and leaves no build (nor a killed setup stage) behind', async () => {
    process.env.ENECG_TOOLS_DIR = mkdtempSync(join(tmpdir(), 'enecg-tools-'));
    // Above the kernel's pid_max: the process that made this stage is surely gone.
    const abandoned = join(process.env.ENECG_TOOLS_DIR, `tfjs-node-4.22.0-tf2.21.0.partial-${2 ** 22 + 1}`);
    mkdirSync(join(abandoned, 'wheels'), { recursive: true });
    process.env.CXX = 'no-such-c++-compiler';
    delete process.env.ENECG_NATIVE_BACKEND;
    const result = await setupNativeBackend('cpu');
    expect(result.status).toBe('failed');
    expect(result.reason).toBe('prerequisites: a C++ compiler (no-such-c++-compiler) is not on PATH');
    const line = describeNativeSetup(result)!;
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/^@tensorflow\/tfjs-node not built: prerequisites: .*; the pipeline runs on wasm/);
    expect(existsSync(join(result.dir, 'ready.json'))).toBe(false);
    expect(existsSync(abandoned)).toBe(false);
    expect(nativeBuildStatus('cpu')).toEqual({
      ready: false,
      reason: '@tensorflow/tfjs-node has not been built by setup',
    });
  });

  it('is skipped with ENECG_NATIVE_BACKEND=0', async () => {
    process.env.ENECG_NATIVE_BACKEND = '0';
    const result = await setupNativeBackend('cpu');
    expect(result).toMatchObject({ status: 'skipped', reason: 'ENECG_NATIVE_BACKEND=0' });
  });

  it.skipIf(!nativeBuildStatus('cpu').ready)(
    'a cached build is re-checked in seconds, not rebuilt',
    async () => {
      const before = readFileSync(join(nativeBuildStatusDir(), 'ready.json'), 'utf8');
      const result = await setupNativeBackend('cpu');
      expect(result.status).toBe('cached');
      expect(result.seconds).toBeLessThan(60);
      expect(readFileSync(join(result.dir, 'ready.json'), 'utf8')).toBe(before);
    },
    120_000,
  );
});

function nativeBuildStatusDir(): string {
  const status = nativeBuildStatus('cpu');
  if (!status.ready) throw new Error(status.reason);
  return status.dir;
}
