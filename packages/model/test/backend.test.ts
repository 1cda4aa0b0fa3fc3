import { ConfigError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import {
  activeBackend,
  parseBackendChoice,
  selectBackend,
  tf,
  withKernelFallback,
} from '../src/backend/index.ts';

describe('backend selection', () => {
  it('auto picks wasm here (no native bindings installed) and records package and version', async () => {
    const info = await selectBackend('auto');
    expect(info.choice).toBe('wasm');
    expect(info.tfBackend).toBe('wasm');
    expect(info.package).toBe('@tensorflow/tfjs-backend-wasm');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(activeBackend()).toEqual(info);
  });

  it('a forced backend that is missing is an environment error saying what to do', async () => {
    await expect(selectBackend('node')).rejects.toThrow(/install @tensorflow\/tfjs-node/);
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

  it('refuses an unknown choice naming the key', () => {
    expect(() => parseBackendChoice('gpu')).toThrow(ConfigError);
    expect(() => parseBackendChoice('gpu')).toThrow(/^backend:/);
  });
});
