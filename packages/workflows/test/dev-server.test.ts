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

  it('names what to do when TEMPORAL_ADDRESS points nowhere', async () => {
    await expect(assertReachable('127.0.0.1:1', 2_000)).rejects.toThrow(/What to do: start one/);
  });
});
