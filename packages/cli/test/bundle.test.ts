import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBundle, currentBundle } from '../bin/bundle.js';
import cliPackage from '../package.json' with { type: 'json' };
import { enecg } from './enecg.ts';

/** The packages a bundle file loads when it is imported: its static imports, followed through chunks. */
async function staticallyLoadedPackages(entry: string): Promise<Set<string>> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = await readFile(file, 'utf8');
    for (const [, specifier] of text.matchAll(/^(?:import|export)\s[^;]*?["']([^"']+)["'];?$/gms)) {
      if (specifier!.startsWith('./')) await visit(join(dirname(file), specifier!));
      else packages.add(specifier!);
    }
  };
  await visit(entry);
  return packages;
}

describe('the enecg bin', () => {
  it('runs the bundle built from the current sources', async () => {
    const { code, stdout } = await enecg(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(cliPackage.version);
    expect(currentBundle()).toBe(await buildBundle());
  }, 120_000);

  it('starts without loading any stage, Temporal, DuckDB or TensorFlow.js', async () => {
    const loaded = [...(await staticallyLoadedPackages(await buildBundle()))];
    expect(loaded.filter((name) => !name.startsWith('node:'))).toEqual(['commander']);
  }, 120_000);
});
