import { gcraStep } from './gcra.js';
import { ALLOWED, EXHAUSTED, type LimitSubject, type LimitVerdict, type Limiter } from './limiter.js';

/**
 * Per-process limits. Without Redis each gateway node counts on its own, so
 * with N nodes a token may get up to N times its rate and, across nodes, more
 * than its usage cap; counts also start again when the process restarts.
 */
export class LocalLimiter implements Limiter {
  readonly #tats = new Map<string, number>();
  readonly #uses = new Map<string, { used: number; expiresAt: number }>();
  readonly #sweep: NodeJS.Timeout;

  constructor(sweepEveryMs = 60_000, clock: () => number = Date.now) {
    // Forget tokens whose bucket has drained or that have expired, so the maps
    // stay as large as the set of recently active tokens.
    this.#sweep = setInterval(() => this.sweep(clock()), sweepEveryMs);
    this.#sweep.unref();
  }

  check(subject: LimitSubject, now: number): LimitVerdict {
    let nextTat: number | undefined;
    if (subject.rate !== null) {
      const step = gcraStep(this.#tats.get(subject.id), now, subject.rate);
      if (!step.allowed) return { allowed: false, reason: 'rate_limited', retryAfterMs: step.retryAfterMs };
      nextTat = step.tat;
    }
    if (subject.maxUses !== null) {
      const counter = this.#uses.get(subject.id);
      const used = counter?.used ?? 0;
      if (used >= subject.maxUses) return EXHAUSTED;
      if (counter === undefined) this.#uses.set(subject.id, { used: 1, expiresAt: subject.expiresAt });
      else counter.used = used + 1;
    }
    if (nextTat === undefined) return ALLOWED;
    this.#tats.set(subject.id, nextTat);
    return { allowed: true, backlogMs: nextTat - now };
  }

  /** Raises the local count to what a shared counter reported, so a fallback starts from it. */
  noteUsed(id: string, used: number, expiresAt: number): void {
    const counter = this.#uses.get(id);
    if (counter === undefined) this.#uses.set(id, { used, expiresAt });
    else if (counter.used < used) counter.used = used;
  }

  usedBy(id: string): number {
    return this.#uses.get(id)?.used ?? 0;
  }

  sweep(now: number): void {
    for (const [id, tat] of this.#tats) if (tat < now) this.#tats.delete(id);
    for (const [id, counter] of this.#uses) if (counter.expiresAt < now) this.#uses.delete(id);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
  }
}
