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
  /**
   * `backlogMs` (tokens with a rate): how far the token's rate is ahead of now after this request,
   * from 0 (the whole quota free) to the period (none left); the RateLimit header is made from it.
   */
  | { readonly allowed: true; readonly backlogMs?: number }
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
