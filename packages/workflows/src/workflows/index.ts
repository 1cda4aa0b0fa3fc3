export { nightlyRetrain } from './nightly.ts';
export { enecgPipeline } from './pipeline.ts';
export { enecgPretrain } from './pretrain.ts';
export { enecgSweep, enecgSweepTrial } from './sweep.ts';
