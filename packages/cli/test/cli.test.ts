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

  it('reports the Temporal CLI as JSON with setup --json', async () => {
    const { code, stdout } = await enecg(['setup', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ temporalCli: expect.stringContaining('temporal') });
  }, 600_000);
});
