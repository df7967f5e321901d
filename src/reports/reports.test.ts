// The over-privileged report and the narrowing plan, fed the way gateways feed
// them (usage counters flushing totals and the daily rollup), on a real SQLite
// store: what it suggests from the rollup, the fallback to the grant when the
// rollup overflowed, the window in days, and two nodes adding up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ALICE, aService, aToken, withEnvironments } from '../store/contract/fixtures.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { UsageCounter } from '../usage/index.js';
import { DAY_MS, overprivilegedReport, planNarrow } from './index.js';

const NOW = 20_500 * DAY_MS + 12 * 3_600_000;
const GRANT = ['orders:GET:/v1/orders/**', 'orders:POST:/v1/orders', 'orders:DELETE:/v1/orders/*', 'orders:GET:/v1/users/**'];

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-reports-'));
  store = await openSqliteStore({ file: join(dir, 'latchkey.db'), now: () => NOW });
  await withEnvironments(store, 'prod');
  await store.createService(aService('orders'), ALICE);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function aTokenWith(permissions: readonly string[]): Promise<string> {
  const token = aToken({ roles: [], permissions: [...permissions], expiresAt: NOW + 10 * DAY_MS });
  await store.createToken(token, ALICE);
  return token.id;
}

function counter(on: Store = store, seenPerDay?: number): UsageCounter {
  return new UsageCounter({ store: on, logger: pino({ level: 'silent' }), flushMs: 0, clock: () => NOW, ...(seenPerDay !== undefined && { seenPerDay }) });
}

const GET = (usage: UsageCounter, id: string, path: string, time = NOW - DAY_MS) => usage.count(id, 'orders:GET:/v1/orders/**', 'orders', 'GET', path, time);
const POST = (usage: UsageCounter, id: string, time = NOW - DAY_MS) => usage.count(id, 'orders:POST:/v1/orders', 'orders', 'POST', '/v1/orders', time);

async function reportOf(id: string, days = 30) {
  return (await overprivilegedReport(store, { days, now: NOW })).find((t) => t.id === id);
}

describe('over-privileged report from the usage rollup', () => {
  it('flags what was not used and suggests the narrowest grant, widening only the last segment, without reading the audit trail', async () => {
    const id = await aTokenWith(GRANT);
    const usage = counter();
    GET(usage, id, '/v1/orders/17', NOW - 20 * DAY_MS);
    GET(usage, id, '/v1/orders/42');
    POST(usage, id);
    await usage.close();
    const summarize = vi.spyOn(store, 'summarizeRequests');
    const report = await reportOf(id);
    expect(summarize).not.toHaveBeenCalled();
    expect(report).toMatchObject({
      used: ['orders:GET:/v1/orders/**', 'orders:POST:/v1/orders'],
      unused: ['orders:DELETE:/v1/orders/*', 'orders:GET:/v1/users/**'],
      suggested: ['orders:GET:/v1/orders/*', 'orders:POST:/v1/orders'],
    });
    // narrow --to suggested proposes exactly what the report suggests.
    const token = (await store.getToken(id))!;
    expect((await planNarrow(store, token, 'suggested', { days: 30, now: NOW })).proposed).toEqual(report!.suggested);
  });

  it('keeps a permission as granted when its rollup overflowed on a day of the window', async () => {
    const id = await aTokenWith(GRANT);
    const usage = counter(store, 4);
    for (let i = 0; i < 50; i++) GET(usage, id, `/v1/orders/${i}/items`);
    POST(usage, id);
    await usage.close();
    expect((await reportOf(id))!.suggested).toEqual(['orders:GET:/v1/orders/**', 'orders:POST:/v1/orders']);
    // Outside the window the overflowed day no longer counts (nor does that day's use).
    const later = counter(store, 4);
    GET(later, id, '/v1/orders/1', NOW + 3_600_000);
    GET(later, id, '/v1/orders/2', NOW + 3_600_000);
    await later.close();
    const recent = await overprivilegedReport(store, { days: 1, now: NOW + DAY_MS });
    expect(recent.find((t) => t.id === id)!.suggested).toEqual(['orders:GET:/v1/orders/*']);
  });

  it('keeps a used permission whose requests were never recorded (totals from before the rollup), and never suggests a permission unused in the window', async () => {
    const id = await aTokenWith(GRANT);
    await store.addUsage([{ tokenId: id, permission: 'orders:POST:/v1/orders', count: 5, lastUsed: NOW - DAY_MS }]);
    const usage = counter();
    // Used 40 days ago only: outside the 30-day window, so unused, even though the rollup has its rows.
    GET(usage, id, '/v1/orders/1', NOW - 40 * DAY_MS);
    usage.count(id, 'orders:GET:/v1/users/**', 'orders', 'GET', '/v1/users/7', NOW - 2 * DAY_MS);
    await usage.close();
    const report = await reportOf(id);
    expect(report!.unused).toEqual(['orders:GET:/v1/orders/**', 'orders:DELETE:/v1/orders/*']);
    expect(report!.suggested).toEqual(['orders:GET:/v1/users/7', 'orders:POST:/v1/orders']);
  });

  it('adds up what several gateway nodes saw: the suggestion is made from the union', async () => {
    const second = await openSqliteStore({ file: join(dir, 'latchkey.db'), now: () => NOW });
    try {
      const id = await aTokenWith(GRANT);
      const a = counter(store);
      const b = counter(second);
      GET(a, id, '/v1/orders/17');
      POST(b, id);
      GET(b, id, '/v1/orders/42');
      await Promise.all([a.close(), b.close()]);
      expect((await reportOf(id))!.suggested).toEqual(['orders:GET:/v1/orders/*', 'orders:POST:/v1/orders']);
      expect((await store.listUsage(id)).map((u) => u.count)).toEqual([2, 1]);
    } finally {
      await second.close();
    }
  });

  it('never suggests wider than the grant, and keeps its denies', async () => {
    const id = await aTokenWith(['orders:GET:/v1/orders/7', 'orders:GET:/v1/orders/8', 'orders:POST:/v1/orders', '!orders:GET:/v1/orders/9']);
    const usage = counter();
    usage.count(id, 'orders:GET:/v1/orders/7', 'orders', 'GET', '/v1/orders/7', NOW - DAY_MS);
    usage.count(id, 'orders:GET:/v1/orders/8', 'orders', 'GET', '/v1/orders/8', NOW - DAY_MS);
    await usage.close();
    expect((await reportOf(id))!.suggested).toEqual(['orders:GET:/v1/orders/7', 'orders:GET:/v1/orders/8', '!orders:GET:/v1/orders/9']);
  });
});
