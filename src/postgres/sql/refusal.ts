import type { SqlRefusalReason } from './types.js';

/**
 * Thrown inside the walk, which is deeply recursive, and caught once at the top
 * (analyzeSql): the first thing refused ends the analysis of the whole string.
 */
export class SqlRefusal {
  constructor(
    readonly reason: SqlRefusalReason,
    readonly detail: string,
    readonly table: string | null = null,
  ) {}
}

/** A node or field the walker does not know: refused, because it might hide a table or a call. */
export function unsupported(what: string): SqlRefusal {
  return new SqlRefusal('invalid_request', `${what} is not SQL the gateway understands, so it is refused`);
}

/** Something understood and never allowed through the gateway, whatever the grant. */
export function refused(detail: string): SqlRefusal {
  return new SqlRefusal('permission_denied', detail);
}
