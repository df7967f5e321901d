import type { CompiledGrant } from '../../policy/types.js';
import type { TokenStatus } from '../../store/records.js';
import type { LimitSubject } from '../limits/limiter.js';
import type { CidrSet } from './cidr.js';

/**
 * Everything the pipeline needs about one token, computed once when the token
 * is loaded: the hot path reads fields and calls the compiled grant, it never
 * parses a permission, a CIDR or a header value.
 */
export interface TokenEntry {
  readonly kind: 'token';
  readonly id: string;
  readonly name: string;
  readonly env: string;
  /** The token's own status, made worse by any ancestor's (a child of a disabled parent is disabled). */
  readonly status: TokenStatus;
  readonly expiresAt: number;
  readonly notBefore: number | null;
  readonly honey: boolean;
  /** Its id and its ancestors' ids: a change to any of them drops this entry. */
  readonly lineage: readonly string[];
  readonly roles: readonly string[];
  readonly cidrs: CidrSet | null;
  /** Null when the grant could not be compiled safely: every request is denied. */
  readonly grant: CompiledGrant | null;
  /** Null when the token has neither a rate limit nor a usage cap. */
  readonly limits: LimitSubject | null;
  readonly loadedAt: number;
}

/** A well-formed token the store does not know, remembered briefly so it cannot hammer the store. */
export interface UnknownEntry {
  readonly kind: 'unknown';
  readonly until: number;
}

export type CacheEntry = TokenEntry | UnknownEntry;
