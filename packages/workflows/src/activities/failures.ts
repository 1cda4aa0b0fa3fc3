import { EnecgError } from '@enecg/common';
import { ApplicationFailure } from '@temporalio/common';

/**
 * Runs a stage and maps our error kinds onto Temporal failures: bad input or configuration is never
 * retried (it cannot become valid), a missing tool or service is. The message names files and records
 * by path and id only, never patient data.
 */
export async function asActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EnecgError) {
      throw ApplicationFailure.create({
        message: error.message,
        type: error.code,
        nonRetryable: !error.retryable,
        cause: error,
      });
    }
    throw error;
  }
}
