import type { Logger } from 'pino';
import type { UsageSink } from '../core/decision-log.js';
import type { Store, UsageCount } from '../store/store.js';

// Usage per token and permission, counted where the gateway decides: a map
// increment per allowed request, and every few seconds one transaction that
// adds this node's increments to the store's totals. Each node adds only what
// it counted, so totals stay right however many nodes share the store. A flush
// that fails keeps its increments for the next one.

export interface UsageCounterOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Default 5,000 ms. */
  readonly flushMs?: number;
}

interface Pending {
  count: number;
  lastUsed: number;
}

export class UsageCounter implements UsageSink {
  readonly #store: Store;
  readonly #logger: Logger;
  #pending = new Map<string, Map<string, Pending>>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;

  constructor(options: UsageCounterOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    const flushMs = options.flushMs ?? 5000;
    if (flushMs > 0) {
      this.#timer = setInterval(() => void this.flush(), flushMs);
      this.#timer.unref();
    }
  }

  count(tokenId: string, permission: string, time: number): void {
    let byPermission = this.#pending.get(tokenId);
    if (byPermission === undefined) {
      byPermission = new Map();
      this.#pending.set(tokenId, byPermission);
    }
    const pending = byPermission.get(permission);
    if (pending === undefined) byPermission.set(permission, { count: 1, lastUsed: time });
    else {
      pending.count++;
      if (time > pending.lastUsed) pending.lastUsed = time;
    }
  }

  /** Writes what was counted since the last flush; resolves when it is stored (or kept for the next try). */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    if (this.#pending.size === 0) return;
    const taken = this.#pending;
    this.#pending = new Map();
    const counts: UsageCount[] = [];
    for (const [tokenId, byPermission] of taken) {
      for (const [permission, { count, lastUsed }] of byPermission) counts.push({ tokenId, permission, count, lastUsed });
    }
    this.#flushing = this.#store.addUsage(counts).catch((err: Error) => {
      this.#logger.warn({ err: err.message, counts: counts.length }, 'could not store usage counts; keeping them for the next flush');
      for (const c of counts) this.#merge(c);
    });
    try {
      await this.#flushing;
    } finally {
      this.#flushing = null;
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  #merge(c: UsageCount): void {
    let byPermission = this.#pending.get(c.tokenId);
    if (byPermission === undefined) {
      byPermission = new Map();
      this.#pending.set(c.tokenId, byPermission);
    }
    const pending = byPermission.get(c.permission);
    if (pending === undefined) byPermission.set(c.permission, { count: c.count, lastUsed: c.lastUsed });
    else {
      pending.count += c.count;
      pending.lastUsed = Math.max(pending.lastUsed, c.lastUsed);
    }
  }
}
