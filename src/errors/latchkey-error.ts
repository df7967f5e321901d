import { REASONS, type ReasonCode } from './registry.js';

/**
 * The one error type that crosses module boundaries. Callers switch on `code`,
 * never on the message. Messages never contain secrets.
 */
export class LatchkeyError extends Error {
  readonly code: ReasonCode;
  readonly status: number;
  /** The input field at fault, for 400s (`permissions[2]`, `ttl`). */
  readonly field: string | undefined;

  constructor(code: ReasonCode, message?: string, options?: { field?: string; cause?: unknown }) {
    super(message ?? REASONS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LatchkeyError';
    this.code = code;
    this.status = REASONS[code].status;
    this.field = options?.field;
  }
}

export function invalid(field: string, message: string): LatchkeyError {
  return new LatchkeyError('invalid_request', `${field}: ${message}`, { field });
}

export function notFound(what: string): LatchkeyError {
  return new LatchkeyError('not_found', `${what} does not exist`);
}
