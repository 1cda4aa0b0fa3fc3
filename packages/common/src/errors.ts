/**
 * One error class per failure kind. Each carries a stable `code` so that callers (the CLI, Temporal
 * retry policies) can react to the kind without parsing messages.
 */
export abstract class EnecgError extends Error {
  abstract readonly code: string;
  /** Bad input or configuration never becomes valid by retrying. */
  abstract readonly retryable: boolean;
}

/** A configuration value or command-line argument is invalid; nothing has been done yet. */
export class ConfigError extends EnecgError {
  readonly code = 'CONFIG_INVALID';
  readonly retryable = false;
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(key ? `${key}: ${message}` : message);
    this.name = 'ConfigError';
  }
}

/** Where in the input a problem was found: as precise as the caller knows. */
export interface InputLocation {
  file: string;
  record?: string;
  field?: string;
  line?: number;
}

/** An input file or record is unreadable or malformed. */
export class InputError extends EnecgError {
  readonly code = 'INPUT_INVALID';
  readonly retryable = false;
  constructor(
    readonly reason: string,
    readonly location: InputLocation,
  ) {
    super(`${formatLocation(location)}: ${reason}`);
    this.name = 'InputError';
  }
}

/** A required external tool or service (Temporal CLI, Temporal server, a backend) is unavailable. */
export class EnvironmentError extends EnecgError {
  readonly code = 'ENVIRONMENT_UNAVAILABLE';
  readonly retryable = true;
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message}\n  What to do: ${hint}`);
    this.name = 'EnvironmentError';
  }
}

/** Stored data no longer matches what lineage recorded for it. */
export class IntegrityError extends EnecgError {
  readonly code = 'INTEGRITY_VIOLATION';
  readonly retryable = false;
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'IntegrityError';
  }
}

export function formatLocation(location: InputLocation): string {
  const parts = [location.file + (location.line === undefined ? '' : `:${location.line}`)];
  if (location.record !== undefined) parts.push(`record ${location.record}`);
  if (location.field !== undefined) parts.push(`field ${location.field}`);
  return parts.join(', ');
}
