export { nightlyRetrain } from './nightly.ts';
export { enecgPipeline } from './pipeline.ts';
export { enecgSweep, enecgSweepTrial } from './sweep.ts';
