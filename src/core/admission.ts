import type { ReasonCode } from '../errors/index.js';
import { parseAddress } from './tokens/cidr.js';
import type { CacheEntry, TokenEntry } from './tokens/token-entry.js';

// Admission: may this token be used here, now, from there? One set of rules
// for every protocol and for the admin API's own tokens, in this order:
//
//   unknown, honeytoken   401 token_unknown (the two read alike)
//   status                401 token_revoked, token_disabled (its own, made worse by any ancestor's)
//   time                  401 token_expired, token_not_yet_valid
//   environment           403 env_mismatch (a node of another environment, or no binding for the token's)
//   client address        403 ip_not_allowed

/** The entry of a token that can be admitted at all; null for an unknown token or a honeytoken. */
export function knownToken(found: CacheEntry): TokenEntry | null {
  return found.kind === 'unknown' || found.honey ? null : found;
}

/**
 * Why `entry` may not be used, or null. `nodeEnv`: the environment the node
 * serves (null: every one). `bindings`: the service's bindings by environment
 * (null: the question names no service, as for the admin API). `client`: the
 * client address; undefined only where none is known (`/v1/check` asked
 * without one), and then the CIDR list is not evaluated.
 */
export function admissionRefusal(
  entry: TokenEntry,
  now: number,
  nodeEnv: string | null,
  bindings: ReadonlyMap<string, unknown> | null,
  client: string | undefined,
): ReasonCode | null {
  if (entry.status !== 'active') return entry.status === 'revoked' ? 'token_revoked' : 'token_disabled';
  if (now >= entry.expiresAt) return 'token_expired';
  if (entry.notBefore !== null && now < entry.notBefore) return 'token_not_yet_valid';
  if (nodeEnv !== null && entry.env !== nodeEnv) return 'env_mismatch';
  if (bindings !== null && !bindings.has(entry.env)) return 'env_mismatch';
  if (entry.cidrs !== null && client !== undefined) {
    const address = parseAddress(client);
    if (address === undefined || !entry.cidrs.contains(address)) return 'ip_not_allowed';
  }
  return null;
}
