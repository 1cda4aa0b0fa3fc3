// The lead order lives in @enecg/common; re-exported because synth's output is written in it and
// consumers of the generator (ingest's round-trip test) read it from here.
export { MIMIC_LEAD_ORDER } from '@enecg/common';
export { CLASS_STATEMENTS, OTHER_RHYTHMS } from './classes.ts';
export type { SynthSummary, SynthTable } from './generate.ts';
export { generateSynthetic } from './generate.ts';
export type { MissingRates, SynthLayout, SynthOptions } from './options.ts';
export { DEFAULT_MISSING } from './options.ts';
