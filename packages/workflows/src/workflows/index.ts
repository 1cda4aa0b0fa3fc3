export { nightlyRetrain } from './nightly.ts';
export { enecgPipeline } from './pipeline.ts';
