import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, EnecgError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import { runInStageProcess } from '../src/activities/stage-process.ts';

describe('a stage job in a stage process', () => {
  it('fails with the error kind the stage threw, fields and all, so retry rules stay as in-process', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-stage-process-'));
    const failure = await runInStageProcess(
      'cacheFeatures',
      { warehouse, expert: 'resnet' },
      { warehouse },
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConfigError);
    expect(failure).toBeInstanceOf(EnecgError);
    expect(failure).toMatchObject({
      name: 'ConfigError',
      code: 'CONFIG_INVALID',
      retryable: false,
      key: 'expert',
      message: expect.stringMatching(/^expert: unknown expert "resnet"/),
    });
    expect((failure as Error).stack).toContain('registry.ts');
  });

  it('does not start when its activity is already cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled before it started'));
    await expect(
      runInStageProcess(
        'evaluate',
        { warehouse: tmpdir(), modelId: 'none' },
        {
          warehouse: tmpdir(),
          signal: controller.signal,
        },
      ),
    ).rejects.toThrow('cancelled before it started');
  });
});
