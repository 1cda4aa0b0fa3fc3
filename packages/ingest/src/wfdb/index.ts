export type { WfdbProblem } from './errors.ts';
export { WfdbInputError } from './errors.ts';
export { INVALID_SAMPLE } from './formats.ts';
export type { WfdbFormat, WfdbHeader, WfdbSignalSpec } from './header.ts';
export { DEFAULT_GAIN, parseWfdbHeader, SUPPORTED_FORMATS } from './header.ts';
export type { ChecksumMismatch, WfdbRecord } from './record.ts';
export {
  checksumMismatches,
  decodeWfdbRecord,
  findLead,
  physicalSignal,
  readWfdbRecord,
} from './record.ts';
