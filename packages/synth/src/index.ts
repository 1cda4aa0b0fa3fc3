export { CLASS_STATEMENTS, OTHER_RHYTHMS } from './classes.ts';
export type { SynthSummary, SynthTable } from './generate.ts';
export { generateSynthetic } from './generate.ts';
export type { MissingRates, SynthLayout, SynthOptions } from './options.ts';
export { DEFAULT_MISSING } from './options.ts';
