#!/usr/bin/env node
// Runs the esbuild bundle of the current sources (see bundle.js), building it first when the sources
// changed since the last build. Without esbuild, or with ENECG_FROM_SOURCE=1, tsx runs the TypeScript
// sources directly: slower to start, same behaviour.
import { buildBundle, currentBundle } from './bundle.js';

async function loadMain() {
  if (process.env.ENECG_FROM_SOURCE !== '1') {
    try {
      const entry = currentBundle() ?? (await buildBundle());
      return await import(entry);
    } catch (error) {
      process.stderr.write(
        `enecg: cannot build the bundle (${error instanceof Error ? error.message : error}); running from source\n`,
      );
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/main.ts');
}

const { main } = await loadMain();
process.exitCode = await main(process.argv);
