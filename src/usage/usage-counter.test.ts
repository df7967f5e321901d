// The usage counter against a real SQLite store: totals and the daily rollup
// of distinct requests, its bound per token, permission and day, day changes,
// a failed flush, and two nodes adding to one store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store, UsageFlush } from '../store/store.js';
import { DAY_MS, MAX_SEEN_RESOURCE, UsageCounter } from './usage-counter.js';

const DAY0 = 20_500;
const T = DAY0 * DAY_MS + 3_600_000;
const TOKEN = 'tok_c0un7er0000000000000';
const READ = 'orders:GET:/v1/orders/**';
const logger = pino({ level: 'silent' });

let dir: string;
let store: Store;
let clock = T;

beforeEach(async () => {
  clock = T;
  dir = mkdtempSync(join(tmpdir(), 'latchkey-usage-'));
  store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function counter(options: { seenPerDay?: number; on?: Store } = {}): UsageCounter {
  return new UsageCounter({ store: options.on ?? store, logger, flushMs: 0, clock: () => clock, ...(options.seenPerDay !== undefined && { seenPerDay: options.seenPerDay }) });
}

const resources = async (fromDay = DAY0, toDay = DAY0 + 10) => (await store.listSeenRequests({ fromDay, toDay })).requests.map((r) => `${r.action} ${r.resource}`).sort();
const overflows = async (fromDay = DAY0, toDay = DAY0 + 10) => (await store.listSeenRequests({ fromDay, toDay })).overflows;

/** What each flush handed to the store. */
function flushes(): UsageFlush[] {
  const seen: UsageFlush[] = [];
  const add = store.addUsageFlush.bind(store);
  vi.spyOn(store, 'addUsageFlush').mockImplementation(async (flush) => {
    seen.push(flush);
    return add(flush);
  });
  return seen;
}

describe('usage counter', () => {
  it('stores a path that holds a token or a credential redacted, as the audit trail does, today and for a late day', async () => {
    const usage = counter();
    const secret = 'lk_prod_0123456789abcdefghijABCDEFGHIJ0123456789';
    usage.count(TOKEN, READ, 'orders', 'GET', `/v1/keys/${secret}`, T);
    await usage.flush();
    clock = T + DAY_MS;
    usage.count(TOKEN, READ, 'orders', 'GET', `/v1/keys/${secret}/x`, T + DAY_MS);
    // A late request of the day before, queued as it is.
    usage.count(TOKEN, READ, 'orders', 'GET', `/v1/old/${secret}`, T + 10);
    await usage.flush();
    const stored = await resources();
    expect(stored).toHaveLength(3);
    expect(stored.join(' ')).not.toContain(secret);
    expect(stored.join(' ')).not.toMatch(/lk_prod_[0-9A-Za-z]{10}/);
  });

  it('flushes totals and each distinct request of a day once, however often it is asked again', async () => {
    const handed = flushes();
    const usage = counter();
    for (let i = 0; i < 10; i++) usage.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${i % 2}`, T + i);
    await usage.flush();
    for (let i = 0; i < 10; i++) usage.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${i % 2}`, T + 100 + i);
    await usage.flush();
    await usage.flush();
    expect(handed.map((f) => [f.counts.length, f.seen?.length])).toEqual([[1, 2], [1, 0]]);
    expect(await store.listUsage(TOKEN)).toEqual([{ tokenId: TOKEN, permission: READ, count: 20, lastUsed: T + 109 }]);
    expect(await resources()).toEqual(['GET /v1/orders/0', 'GET /v1/orders/1']);
    expect((await store.listSeenRequests({ fromDay: DAY0, toDay: DAY0 })).requests[0]).toEqual({ tokenId: TOKEN, permission: READ, service: 'orders', action: 'GET', resource: '/v1/orders/0' });
  });

  it('keeps at most seenPerDay distinct requests per token, permission and day, then records the overflow once', async () => {
    const usage = counter({ seenPerDay: 3 });
    for (let i = 0; i < 5; i++) usage.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${i}`, T + i);
    await usage.flush();
    for (let i = 5; i < 1000; i++) usage.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${i}`, T + i);
    await usage.flush();
    expect(await resources()).toEqual(['GET /v1/orders/0', 'GET /v1/orders/1', 'GET /v1/orders/2']);
    expect(await overflows()).toEqual([{ tokenId: TOKEN, permission: READ }]);
    expect((await store.listUsage(TOKEN))[0]!.count).toBe(1000);
    // Another permission of the same token has its own bound.
    usage.count(TOKEN, 'orders:POST:/v1/orders', 'orders', 'POST', '/v1/orders', T);
    await usage.flush();
    expect(await resources()).toContain('POST /v1/orders');
    expect(await overflows()).toHaveLength(1);
  });

  it('starts each day afresh: a bound passed yesterday does not hold today, and yesterday keeps its rows', async () => {
    const usage = counter({ seenPerDay: 1 });
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/1', T);
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/2', T + 1);
    // The next day, before any flush: the first day's rows still go out with it.
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/3', T + DAY_MS);
    await usage.flush();
    expect(await resources(DAY0, DAY0)).toEqual(['GET /v1/orders/1']);
    expect(await overflows(DAY0, DAY0)).toHaveLength(1);
    expect(await resources(DAY0 + 1, DAY0 + 1)).toEqual(['GET /v1/orders/3']);
    expect(await overflows(DAY0 + 1, DAY0 + 1)).toEqual([]);
    // A request that began before midnight, counted after the entry moved on, is kept for its own day.
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/late', T + 2);
    await usage.flush();
    expect(await resources(DAY0, DAY0)).toEqual(['GET /v1/orders/1', 'GET /v1/orders/late']);
  });

  it('does not keep a resource too long for the rollup: the day overflows instead', async () => {
    const usage = counter();
    usage.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${'x'.repeat(MAX_SEEN_RESOURCE)}`, T);
    await usage.flush();
    expect(await resources()).toEqual([]);
    expect(await overflows()).toEqual([{ tokenId: TOKEN, permission: READ }]);
  });

  it('keeps what a failed flush held (counts, seen requests, overflows) for the next one', async () => {
    const usage = counter({ seenPerDay: 1 });
    vi.spyOn(store, 'addUsageFlush').mockRejectedValueOnce(new Error('store down'));
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/1', T);
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/2', T + 1);
    await usage.flush();
    expect(await store.listUsage(TOKEN)).toEqual([]);
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/1', T + 2);
    await usage.flush();
    expect(await store.listUsage(TOKEN)).toEqual([{ tokenId: TOKEN, permission: READ, count: 3, lastUsed: T + 2 }]);
    expect(await resources()).toEqual(['GET /v1/orders/1']);
    expect(await overflows()).toHaveLength(1);
  });

  it('drops the entries of a day that is over once they are flushed', async () => {
    const handed = flushes();
    const usage = counter();
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/1', T);
    await usage.flush();
    clock = T + DAY_MS;
    await usage.flush();
    // The entry is gone, so yesterday's request is written again (a no-op in the store) when it is seen again.
    usage.count(TOKEN, READ, 'orders', 'GET', '/v1/orders/1', T + 5);
    await usage.flush();
    expect(handed.map((f) => f.seen?.length)).toEqual([1, 1]);
    expect(await resources()).toEqual(['GET /v1/orders/1']);
  });

  it('adds up across nodes: two counters flushing to one store give the sums and the union of what each saw', async () => {
    const second = await openSqliteStore({ file: join(dir, 'latchkey.db') });
    try {
      const a = counter({ seenPerDay: 2 });
      const b = counter({ seenPerDay: 2, on: second });
      for (let i = 0; i < 30; i++) {
        a.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${i % 2}`, T + i);
        b.count(TOKEN, READ, 'orders', 'GET', `/v1/orders/${1 + (i % 2)}`, T + 100 + i);
      }
      b.count(TOKEN, 'orders:POST:/v1/orders', 'orders', 'POST', '/v1/orders', T + 7);
      await Promise.all([a.flush(), b.flush()]);
      await Promise.all([a.close(), b.close()]);
      expect(await store.listUsage(TOKEN)).toEqual([
        { tokenId: TOKEN, permission: READ, count: 60, lastUsed: T + 129 },
        { tokenId: TOKEN, permission: 'orders:POST:/v1/orders', count: 1, lastUsed: T + 7 },
      ].sort((x, y) => (x.permission < y.permission ? -1 : 1)));
      // Each node stayed within its bound; together they saw three distinct requests, no overflow.
      expect(await resources()).toEqual(['GET /v1/orders/0', 'GET /v1/orders/1', 'GET /v1/orders/2', 'POST /v1/orders']);
      expect(await overflows()).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
