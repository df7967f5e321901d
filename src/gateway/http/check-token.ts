import type { ReasonCode } from '../../errors/index.js';
import type { TokenEntry } from '../../core/tokens/token-entry.js';

// The token stage after lookup: status, expiry, not-before. Environment and
// client address depend on the node and the request and are checked by the
// pipeline right after.

export function checkToken(entry: TokenEntry, now: number): ReasonCode | null {
  if (entry.status !== 'active') return entry.status === 'revoked' ? 'token_revoked' : 'token_disabled';
  if (now >= entry.expiresAt) return 'token_expired';
  if (entry.notBefore !== null && now < entry.notBefore) return 'token_not_yet_valid';
  return null;
}
