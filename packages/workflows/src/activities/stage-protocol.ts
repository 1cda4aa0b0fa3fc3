import { ConfigError, EnvironmentError, InputError, IntegrityError } from '@enecg/common';

/**
 * What a stage process and the activity that started it say to each other over the IPC channel
 * (structured clone: plain objects, typed arrays, no class instances).
 */
export type ToStageProcess =
  /** A spare process loads the stage packages while it waits for a job. */
  | { type: 'preload' }
  /** The job, with the activity's environment and working directory as they are now. */
  | { type: 'run'; job: string; input: unknown; env: Record<string, string | undefined>; cwd: string }
  | { type: 'cancel' };

export type FromStageProcess =
  | { type: 'progress'; progress: unknown }
  | { type: 'done'; result: unknown }
  | { type: 'failed'; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** The error's own enumerable fields: our kinds' `code`, `retryable`, `location`, `key`, `hint`, `path`. */
  fields: Record<string, unknown>;
}

const ERROR_KINDS = { ConfigError, InputError, EnvironmentError, IntegrityError } as const;

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    fields: structuredClone({ ...error }),
  };
}

/**
 * The error as the stage threw it: one of our kinds comes back as an instance of its class with its
 * fields, so the activity maps it to a (non-)retryable failure exactly as if the stage had run in-process.
 */
export function reviveError(serialized: SerializedError): Error {
  const kind = ERROR_KINDS[serialized.name as keyof typeof ERROR_KINDS];
  const error: Error = kind ? Object.create(kind.prototype) : new Error();
  Object.assign(error, serialized.fields);
  Object.defineProperty(error, 'name', { value: serialized.name, writable: true, configurable: true });
  Object.defineProperty(error, 'message', { value: serialized.message, writable: true, configurable: true });
  Object.defineProperty(error, 'stack', { value: serialized.stack, writable: true, configurable: true });
  return error;
}
