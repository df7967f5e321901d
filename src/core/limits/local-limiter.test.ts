// GCRA arithmetic and the local limiter, on a frozen clock.
import { describe, expect, it } from 'vitest';
import { gcraStep, retryAfterSeconds } from './gcra.js';
import { LocalLimiter } from './local-limiter.js';

const T0 = 1_767_225_600_000;

describe('GCRA', () => {
  it('admits a burst of `count`, then one per interval', () => {
    const rate = { count: 4, periodMs: 1000 };
    let tat: number | undefined;
    const allowed: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const step = gcraStep(tat, T0, rate);
      if (step.allowed) tat = step.tat;
      allowed.push(step.allowed);
    }
    expect(allowed).toEqual([true, true, true, true, false, false]);
    expect(gcraStep(tat, T0, rate).retryAfterMs).toBe(250);
    expect(gcraStep(tat, T0 + 250, rate).allowed).toBe(true);
  });

  it('holds the configured rate over a long run', () => {
    const rate = { count: 10, periodMs: 1000 };
    let tat: number | undefined;
    let allowed = 0;
    // A request every millisecond for 10 s: burst of 10, then 10/s.
    for (let t = 0; t < 10_000; t++) {
      const step = gcraStep(tat, T0 + t, rate);
      if (step.allowed) {
        tat = step.tat;
        allowed++;
      }
    }
    expect(allowed).toBe(10 + 100 - 1);
  });

  it('rounds Retry-After up to whole seconds, at least one', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
  });
});

describe('LocalLimiter', () => {
  it('never spends a use on a rate-limited request', async () => {
    const limiter = new LocalLimiter(60_000, () => T0);
    const subject = { id: 'tok_a', rate: { count: 1, periodMs: 1000 }, maxUses: 2, expiresAt: T0 + 60_000 };
    // One a second: after each allowed request the rate runs a full second ahead (nothing left until then).
    expect(limiter.check(subject, T0)).toEqual({ allowed: true, backlogMs: 1000 });
    expect(limiter.check(subject, T0)).toMatchObject({ allowed: false, reason: 'rate_limited' });
    expect(limiter.usedBy('tok_a')).toBe(1);
    expect(limiter.check(subject, T0 + 1000)).toEqual({ allowed: true, backlogMs: 1000 });
    expect(limiter.check(subject, T0 + 2000)).toEqual({ allowed: false, reason: 'usage_exhausted' });
    await limiter.close();
  });

  it('starts a fallback from the shared count it last saw, and forgets expired tokens', async () => {
    const limiter = new LocalLimiter(60_000, () => T0);
    const subject = { id: 'tok_b', rate: null, maxUses: 3, expiresAt: T0 + 1000 };
    limiter.noteUsed('tok_b', 2, subject.expiresAt);
    expect(limiter.check(subject, T0)).toEqual({ allowed: true });
    expect(limiter.check(subject, T0)).toEqual({ allowed: false, reason: 'usage_exhausted' });
    limiter.sweep(T0 + 2000);
    expect(limiter.usedBy('tok_b')).toBe(0);
    await limiter.close();
  });
});
