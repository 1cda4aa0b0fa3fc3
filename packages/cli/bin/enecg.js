#!/usr/bin/env node
// The package is consumed from TypeScript source; tsx's loader makes that work for a plain `node` bin.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
