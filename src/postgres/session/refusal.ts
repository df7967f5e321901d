import { REASONS, type ReasonCode } from '../../errors/index.js';
import { backend } from '../wire/serializer.js';

// Refusals in PostgreSQL's own form: an ErrorResponse whose SQLSTATE says the
// class of failure and whose message starts `latchkey: <reason code>:`, so a
// client, a log and the audit event name the same reason. Refusals of a
// statement are ERRORs (the session goes on); refusals of the session itself
// (its token, its service, the protocol) are FATAL and end it.

const SQLSTATE: Readonly<Partial<Record<ReasonCode, string>>> = {
  token_missing: '28P01', token_malformed: '28P01', token_unknown: '28P01', token_expired: '28P01',
  token_not_yet_valid: '28P01', token_revoked: '28P01', token_disabled: '28P01',
  permission_denied: '42501', env_mismatch: '42501', ip_not_allowed: '42501', request_ambiguous: '42501',
  invalid_request: '42501',
  service_unknown: '3D000',
  body_too_large: '08P01',
  rate_limited: '53400', usage_exhausted: '53400', concurrency_limited: '53300',
  upstream_unreachable: '08001', upstream_timeout: '08001', upstream_credential_missing: '08001',
  store_unavailable: '57P03', audit_unavailable: '57P03',
  internal_error: 'XX000',
};

/** SQLSTATE of a protocol violation (a malformed or oversize frame). */
export const PROTOCOL_VIOLATION = '08P01';

export function sqlstateOf(reason: ReasonCode): string {
  return SQLSTATE[reason] ?? 'XX000';
}

export function refusalMessage(reason: ReasonCode, detail: string | null): string {
  return `latchkey: ${reason}: ${detail ?? REASONS[reason].message}`;
}

export function refusal(severity: 'ERROR' | 'FATAL', reason: ReasonCode, detail: string | null): Buffer {
  return backend.error(severity, sqlstateOf(reason), refusalMessage(reason, detail));
}

/**
 * What the upstream is sent in place of a refused statement: text its raw
 * parser rejects, touching nothing, so that the upstream itself enters the
 * state PostgreSQL would be in after the refusal (an open transaction
 * aborted, the rest of an extended-protocol batch skipped until Sync). Its
 * error is swallowed and the gateway's refusal sent instead.
 */
export const REFUSED_STATEMENT = 'LATCHKEY REFUSED THIS STATEMENT';

/** Reads the reason code back from a refusal's message (tests and the contract). */
export function reasonOfMessage(message: string): string | null {
  const match = /^latchkey: ([a-z_]+):/.exec(message);
  return match === null ? null : match[1]!;
}
