import type { RateLimit } from '../../store/records.js';

/** What the limits stage needs to know of a token, precomputed in its cache entry. */
export interface LimitSubject {
  readonly id: string;
  readonly rate: RateLimit | null;
  readonly maxUses: number | null;
  /** Usage counters live until the token expires. */
  readonly expiresAt: number;
}

export type LimitVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'rate_limited'; readonly retryAfterMs: number }
  | { readonly allowed: false; readonly reason: 'usage_exhausted' };

export const ALLOWED: LimitVerdict = { allowed: true };
export const EXHAUSTED: LimitVerdict = { allowed: false, reason: 'usage_exhausted' };

/**
 * Rate limit, then usage cap, as one step: a request refused by either consumes
 * nothing, so a rate-limited request never spends one of the token's uses.
 * Local limiters answer synchronously; the Redis one with a promise.
 */
export interface Limiter {
  check(subject: LimitSubject, now: number): LimitVerdict | Promise<LimitVerdict>;
  close(): Promise<void>;
}
