import { InputError, type InputLocation } from '@enecg/common';

/**
 * Why a WFDB record could not be read. Ingest turns each kind into a quarantine reason, so the kinds
 * are the distinctions an operator acts on (fix the header, re-copy a file, drop the record).
 */
export type WfdbProblem =
  | 'unparsable-header'
  | 'unsupported'
  | 'unsafe-path'
  | 'missing-signal-file'
  | 'short-signal-file'
  /** Signal file bytes fail a check (a FLAC CRC or MD5) or contradict the header. */
  | 'corrupt-signal-file';

/** An `InputError` that also says which kind of WFDB problem it is. */
export class WfdbInputError extends InputError {
  constructor(
    readonly problem: WfdbProblem,
    reason: string,
    location: InputLocation,
  ) {
    super(reason, location);
    this.name = 'WfdbInputError';
  }
}
