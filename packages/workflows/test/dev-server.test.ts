import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError } from '@enecg/common';
import { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { assertReachable, startDevServer } from '../src/index.ts';
import { ensureTemporalCli } from '../src/temporal-cli.ts';

describe('the local Temporal dev server', () => {
  it('reuses the cached CLI on a second call', async () => {
    const first = await ensureTemporalCli();
    const second = await ensureTemporalCli();
    expect(second.path).toBe(first.path);
    expect(second.source).toMatch(/^(env|cached-)/);
  }, 600_000);

  it('starts healthy on 127.0.0.1 and stops only its own process', async () => {
    const server = await startDevServer({ dbFile: ':memory:' });
    try {
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
      const connection = await Connection.connect({ address: server.address });
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      await connection.close();
    } finally {
      await server.stop();
    }
    await expect(assertReachable(server.address, 2_000)).rejects.toThrow(/cannot reach a Temporal server/);
  }, 120_000);

  it('says what to do when the CLI is missing and cannot be installed', async () => {
    const saved = { PATH: process.env.PATH, ENECG_TOOLS_DIR: process.env.ENECG_TOOLS_DIR };
    process.env.ENECG_TOOLS_DIR = await mkdtemp(join(tmpdir(), 'enecg-no-tools-'));
    process.env.PATH = '/nonexistent';
    try {
      const attempt = ensureTemporalCli();
      await expect(attempt).rejects.toThrow(EnvironmentError);
      await expect(attempt).rejects.toThrow(/could not be installed \(PyPI: .*; go install: .*\)/);
      await expect(attempt).rejects.toThrow(/What to do: .*TEMPORAL_CLI_PATH/);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('names what to do when TEMPORAL_ADDRESS points nowhere', async () => {
    await expect(assertReachable('127.0.0.1:1', 2_000)).rejects.toThrow(/What to do: start one/);
  });
});
