import type { RateLimit } from '../../store/records.js';

// The generic cell rate algorithm: one number per token (the theoretical
// arrival time, TAT) instead of a window of timestamps, so a check is O(1) and
// the same arithmetic runs locally and inside the Redis script.
//
// A limit of `count` per `periodMs` emits one request every `periodMs / count`
// and lets a full `count` arrive at once (burst tolerance = period - interval).

export interface GcraStep {
  readonly allowed: boolean;
  /** The TAT to store when allowed. */
  readonly tat: number;
  /** When refused: milliseconds until a request would be allowed. */
  readonly retryAfterMs: number;
}

export function gcraStep(storedTat: number | undefined, now: number, rate: RateLimit): GcraStep {
  const interval = rate.periodMs / rate.count;
  const base = storedTat === undefined || storedTat < now ? now : storedTat;
  const tat = base + interval;
  const over = tat - now - rate.periodMs;
  if (over > 0) return { allowed: false, tat: base, retryAfterMs: over };
  return { allowed: true, tat, retryAfterMs: 0 };
}

/** Retry-After is whole seconds, at least 1, so a client never retries in a tight loop. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
