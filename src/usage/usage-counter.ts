import type { Logger } from 'pino';
import { redactText } from '../audit/redact.js';
import type { UsageSink } from '../core/decision-log.js';
import type { SeenOverflow, SeenRequest, Store, UsageCount } from '../store/store.js';

// Usage per token and permission, counted where the gateway decides: a map
// increment per allowed request, and every few seconds one transaction that
// adds this node's increments to the store's totals. Each node adds only what
// it counted, so totals stay right however many nodes share the store. A flush
// that fails keeps its increments for the next one.
//
// The same entry keeps the distinct requests (action and resource, per UTC
// day) the token made under the permission, which the over-privileged report
// suggests a grant from without reading the audit trail: two more lookups per
// request, and a row written once per node and day when a request is new. Past
// `seenPerDay` distinct requests (or a resource too long to keep) the entry
// stops collecting for that day and records an overflow instead; the report
// then keeps that permission as granted. What is stored is redacted as the
// audit trail is (a token or credential in a path never reaches the table). Memory is therefore at most
// `seenPerDay` resources per token and permission used today, and the table
// at most that many rows per node, token, permission and day.

export const DAY_MS = 86_400_000;

/** Distinct requests kept per token, permission and day (default of `seenPerDay`). */
export const SEEN_PER_DAY = 64;

/** Longer resources are not kept (they count as an overflow): every rollup key stays well inside an index entry. */
export const MAX_SEEN_RESOURCE = 256;

/** Rows for past days that a late request (one that began before midnight) may queue between flushes. */
const MAX_LATE = 100_000;

export interface UsageCounterOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Default 5,000 ms. */
  readonly flushMs?: number;
  /** Default SEEN_PER_DAY. */
  readonly seenPerDay?: number;
  /** Tells which day is over, so its entries can be dropped; default Date.now. */
  readonly clock?: () => number;
}

/** Never an action: an entry's first request always looks its set up. */
const NO_ACTION = '\u0000';

/** One token and permission: counts since the last flush, and the distinct requests of `day`. */
interface Usage {
  count: number;
  lastUsed: number;
  day: number;
  service: string;
  /** Action → resources seen on `day`; null once the bound was passed on that day. */
  seen: Map<string, Set<string>> | null;
  /** The last action asked and its set (a permission usually allows one method): a string compare instead of a lookup. */
  action: string;
  resources: Set<string> | null;
  distinct: number;
  /** Action, resource, action, resource, ... seen since the last flush (not stored yet). */
  fresh: string[];
  /** The overflow of `day` is not stored yet. */
  overflowFresh: boolean;
}

function newUsage(day: number, service: string): Usage {
  return { count: 0, lastUsed: 0, day, service, seen: new Map(), action: NO_ACTION, resources: null, distinct: 0, fresh: [], overflowFresh: false };
}

/** The set of an action's resources on the entry's day (made when new); null once the day overflowed. */
function resourcesOf(usage: Usage, action: string): Set<string> | null {
  if (usage.seen === null) return null;
  let resources = usage.seen.get(action);
  if (resources === undefined) usage.seen.set(action, (resources = new Set()));
  usage.action = action;
  usage.resources = resources;
  return resources;
}

export class UsageCounter implements UsageSink {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #seenPerDay: number;
  readonly #clock: () => number;
  readonly #usage = new Map<string, Map<string, Usage>>();
  /** Rows of a day an entry has moved past, or put back after a failed flush: written with the next flush. */
  #late: SeenRequest[] = [];
  #lateOverflows: SeenOverflow[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;

  constructor(options: UsageCounterOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#seenPerDay = options.seenPerDay ?? SEEN_PER_DAY;
    this.#clock = options.clock ?? Date.now;
    const flushMs = options.flushMs ?? 5000;
    if (flushMs > 0) {
      this.#timer = setInterval(() => void this.flush(), flushMs);
      this.#timer.unref();
    }
  }

  count(tokenId: string, permission: string, service: string, action: string, resource: string, time: number): void {
    let byPermission = this.#usage.get(tokenId);
    if (byPermission === undefined) {
      byPermission = new Map();
      this.#usage.set(tokenId, byPermission);
    }
    const day = Math.floor(time / DAY_MS);
    let usage = byPermission.get(permission);
    if (usage === undefined) {
      usage = newUsage(day, service);
      byPermission.set(permission, usage);
    }
    usage.count++;
    if (time > usage.lastUsed) usage.lastUsed = time;
    if (day !== usage.day || service !== usage.service) {
      this.#otherDay(tokenId, permission, usage, day, service, action, resource);
      return;
    }
    const resources = action === usage.action ? usage.resources : resourcesOf(usage, action);
    if (resources === null || resources.has(resource)) return;
    this.#see(usage, resources, action, resource);
  }

  /** Writes what was counted since the last flush; resolves when it is stored (or kept for the next try). */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    const today = Math.floor(this.#clock() / DAY_MS);
    const counts: UsageCount[] = [];
    const seen = this.#late;
    const overflows = this.#lateOverflows;
    this.#late = [];
    this.#lateOverflows = [];
    for (const [tokenId, byPermission] of this.#usage) {
      for (const [permission, usage] of byPermission) {
        const { count, lastUsed, day, service, fresh } = usage;
        if (count === 0 && fresh.length === 0 && !usage.overflowFresh) {
          // Nothing since the last flush, and its day is over: nothing left to dedupe against.
          if (day < today) byPermission.delete(permission);
          continue;
        }
        if (count > 0) counts.push({ tokenId, permission, count, lastUsed });
        for (let i = 0; i < fresh.length; i += 2) seen.push({ tokenId, permission, day, service, action: fresh[i]!, resource: redactText(fresh[i + 1]!) });
        if (usage.overflowFresh) overflows.push({ tokenId, permission, day });
        usage.count = 0;
        usage.lastUsed = 0;
        usage.fresh = [];
        usage.overflowFresh = false;
      }
      if (byPermission.size === 0) this.#usage.delete(tokenId);
    }
    if (counts.length === 0 && seen.length === 0 && overflows.length === 0) return;
    this.#flushing = this.#store.addUsageFlush({ counts, seen, overflows }).catch((err: Error) => {
      this.#logger.warn({ err: err.message, counts: counts.length, seen: seen.length }, 'could not store usage counts; keeping them for the next flush');
      for (const c of counts) this.#merge(c);
      this.#late.push(...seen);
      this.#lateOverflows.push(...overflows);
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

  /** A request not yet seen today: kept while the bound allows, else the day overflows and the entry stops collecting. */
  #see(usage: Usage, resources: Set<string>, action: string, resource: string): void {
    if (usage.distinct >= this.#seenPerDay || resource.length > MAX_SEEN_RESOURCE) {
      usage.seen = null;
      usage.resources = null;
      usage.overflowFresh = true;
      return;
    }
    resources.add(resource);
    usage.distinct++;
    usage.fresh.push(action, resource);
  }

  /** Once a day per entry: the new day starts empty (the old day's rows wait for the flush). A late request is queued as it is. */
  #otherDay(tokenId: string, permission: string, usage: Usage, day: number, service: string, action: string, resource: string): void {
    if (day > usage.day) {
      for (let i = 0; i < usage.fresh.length; i += 2) {
        this.#late.push({ tokenId, permission, day: usage.day, service: usage.service, action: usage.fresh[i]!, resource: redactText(usage.fresh[i + 1]!) });
      }
      if (usage.overflowFresh) this.#lateOverflows.push({ tokenId, permission, day: usage.day });
      Object.assign(usage, { day, service, seen: new Map(), action: NO_ACTION, resources: null, distinct: 0, fresh: [], overflowFresh: false });
      this.#see(usage, resourcesOf(usage, action)!, action, resource);
      return;
    }
    // A request that began before midnight, or (never, since a permission names one service) another service.
    if (day === usage.day || this.#late.length >= MAX_LATE || resource.length > MAX_SEEN_RESOURCE) this.#lateOverflows.push({ tokenId, permission, day });
    else this.#late.push({ tokenId, permission, day, service, action, resource: redactText(resource) });
  }

  #merge(c: UsageCount): void {
    let byPermission = this.#usage.get(c.tokenId);
    if (byPermission === undefined) {
      byPermission = new Map();
      this.#usage.set(c.tokenId, byPermission);
    }
    let usage = byPermission.get(c.permission);
    if (usage === undefined) {
      // Only its counts are put back (its seen requests went back with the rest of the flush); day -1, so
      // that the next request starts the entry's day afresh.
      usage = newUsage(-1, '');
      byPermission.set(c.permission, usage);
    }
    usage.count += c.count;
    usage.lastUsed = Math.max(usage.lastUsed, c.lastUsed);
  }
}
