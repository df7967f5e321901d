import type { ReasonCode } from '../errors/index.js';
import type { TokenRecord } from '../store/records.js';

/**
 * Why a stored token may not be used at `now`, or undefined when it may.
 * A honeytoken reads exactly like a token Latchkey never issued.
 */
export function tokenRefusal(record: TokenRecord | undefined, now: number): ReasonCode | undefined {
  if (record === undefined || record.honey) return 'token_unknown';
  if (record.status === 'revoked') return 'token_revoked';
  if (record.status === 'disabled') return 'token_disabled';
  if (record.expiresAt <= now) return 'token_expired';
  if (record.notBefore !== null && record.notBefore > now) return 'token_not_yet_valid';
  return undefined;
}
