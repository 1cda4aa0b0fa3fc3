import { nativeBuildStatus } from '@enecg/model';
import { describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

describe('the enecg command', () => {
  it('teaches its commands with --help', async () => {
    const { code, stdout } = await enecg(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: enecg');
    expect(stdout).toContain('setup');
  }, 30_000);

  it('refuses an unknown flag with one clear message and exit code 2', async () => {
    const { code, stderr } = await enecg(['--no-such-flag']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option '--no-such-flag'");
    expect(stderr).toContain('--help');
  }, 30_000);

  it('reports the Temporal CLI and the native backend as JSON with setup --json', async () => {
    const { code, stdout } = await enecg(['setup', '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ temporalCli: expect.stringContaining('temporal') });
    const [native] = summary.native;
    expect(native.variant).toBe('cpu');
    expect(native.dir).toMatch(/tfjs-node-4\.22\.0-tf2\.21\.0$/);
    if (nativeBuildStatus('cpu').ready) expect(native.status).toBe('cached');
    else
      expect(native).toMatchObject({
        status: expect.stringMatching(/^(skipped|failed)$/),
        reason: expect.any(String),
      });
  }, 600_000);

  it('skips the native build with ENECG_NATIVE_BACKEND=0 and says so in one line', async () => {
    const { code, stderr } = await enecg(['setup'], { env: { ENECG_NATIVE_BACKEND: '0' } });
    expect(code).toBe(0);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((line) => /native/i.test(line)),
    ).toEqual([
      'setup: native TensorFlow backend skipped (ENECG_NATIVE_BACKEND=0); the pipeline runs on wasm',
    ]);
  }, 600_000);
});
