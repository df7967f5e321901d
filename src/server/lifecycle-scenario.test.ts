// Issue 13 end to end in `latchkey serve` (admin API and gateway in one
// process, SQLite): rotation, child tokens and their cascade at the gateway,
// usage counted from gateway decisions, and a simulated month of audited
// traffic → report overprivileged → narrow --dry-run → narrow, after which the
// real gateway refuses a dropped permission and passes a kept one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../audit/event.js';
import { loadConfig, loadTokenHasher } from '../config/index.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { mintToken } from '../lifecycle/index.js';
import { aDecision } from '../store/contract/fixtures.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { UsageCounter } from '../usage/index.js';
import { createLogger } from './logger.js';
import { startServer, type RunningServer } from './serve.js';

const DAY = 86_400_000;
let server: RunningServer;
let upstream: TestUpstream;
let dataDir: string;
let adminToken: string;
let mint: (permissions: string[], name?: string) => Promise<{ id: string; token: string }>;

async function admin(method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function gateway(token: string, method: string, path: string): Promise<{ status: number; error: string | undefined }> {
  const response = await fetch(`${server.gatewayUrl}/orders${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  let error: string | undefined;
  try { error = JSON.parse(text).error; } catch { error = undefined; }
  return { status: response.status, error };
}

/** Waits for a condition the change feed brings about; generous, never a fixed sleep. */
async function until(what: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-lifecycle-'));
  const configFile = join(dataDir, 'latchkey.json');
  writeFileSync(configFile, JSON.stringify({ lifecycle: { usageFlushMs: 100 } }));
  const sink = new Writable({ write(_chunk: Buffer, _encoding, done) { done(); } });
  server = await startServer(loadConfig({ configFile, dataDir, admin: '127.0.0.1:0', gateway: '127.0.0.1:0', auth: '127.0.0.1:0' }, {}), { logger: createLogger('info', sink) });
  upstream = await startUpstream();
  const now = Date.now();
  await server.store.createService({
    name: 'orders', kind: 'http', bindings: [{ env: 'dev', upstream: upstream.url, credential: { from: 'none' } }],
    tokenHeader: null, maxBodyBytes: 1024, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now,
  }, SYSTEM_ACTOR);
  const hasher = loadTokenHasher(dataDir, undefined, false);
  mint = async (permissions, name = 'scenario') => {
    const { record, token } = await mintToken(server.store, hasher, {
      name, env: 'dev', owner: 'test', roles: [], permissions, expiresAt: Date.now() + 20 * DAY, notBefore: null,
      cidrs: [], rate: null, maxUses: null, honey: false, metadata: {}, parentId: null,
    }, SYSTEM_ACTOR, Date.now(), null);
    return { id: record.id, token };
  };
  adminToken = (await mint(['latchkey:*'], 'admin')).token;
  const probe = await mint(['orders:*']);
  await until(async () => (await gateway(probe.token, 'GET', '/x')).status === 200);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('rotation', () => {
  it('--grace 1h: both tokens work, linked and audited; --grace 0: the old one is refused at once', async () => {
    const old = await mint(['orders:GET:/v1/**']);
    const rotated = await admin('POST', `/v1/tokens/${old.id}/rotate`, { grace: '1h' });
    expect(rotated.status).toBe(201);
    expect(rotated.body.predecessor).toBe(old.id);
    expect((await gateway(rotated.body.token, 'GET', '/v1/a')).status).toBe(200);
    expect((await gateway(old.token, 'GET', '/v1/a')).status).toBe(200);
    const shown = await admin('GET', `/v1/tokens/${old.id}`);
    expect(shown.body.links.successorId).toBe(rotated.body.id);
    expect(Date.parse(shown.body.expiresAt)).toBe(Date.parse(rotated.body.graceUntil));
    expect((await admin('POST', `/v1/tokens/${old.id}/rotate`, { grace: '1h' })).status).toBe(409);

    const again = await admin('POST', `/v1/tokens/${rotated.body.id}/rotate`, { grace: '0' });
    expect(again.body.revoked).toEqual([rotated.body.id]);
    await until(async () => (await gateway(rotated.body.token, 'GET', '/v1/a')).error === 'token_revoked');
    expect((await gateway(again.body.token, 'GET', '/v1/a')).status).toBe(200);
  });
});

describe('child tokens', () => {
  it('derive with the parent token itself; never wider (400 naming the dimension); a depth-3 tree dies with its root', async () => {
    const root = await mint(['latchkey:tokens.derive', 'orders:GET:/v1/orders/**']);
    const wider = await admin('POST', '/v1/tokens/derive', { name: 'wide', permissions: ['orders:GET:/v1/**'] }, root.token);
    expect([wider.status, wider.body.error, wider.body.field]).toEqual([400, 'invalid_request', 'permissions']);
    const longer = await admin('POST', '/v1/tokens/derive', { name: 'long', permissions: ['orders:GET:/v1/orders/*'], ttl: '90d' }, root.token);
    expect([longer.status, longer.body.field]).toEqual([400, 'expiresAt']);
    const noRight = await mint(['orders:GET:/v1/orders/**']);
    expect((await admin('POST', '/v1/tokens/derive', { name: 'x', permissions: ['orders:GET:/v1/orders/*'] }, noRight.token)).status).toBe(403);

    const tree = [root];
    for (let depth = 1; depth <= 3; depth++) {
      const child = await admin('POST', '/v1/tokens/derive', { name: `level-${depth}`, permissions: ['latchkey:tokens.derive', 'orders:GET:/v1/orders/*'] }, tree.at(-1)!.token);
      expect(child.status).toBe(201);
      expect(child.body.parentId).toBe(tree.at(-1)!.id);
      tree.push({ id: child.body.id, token: child.body.token });
    }
    for (const t of tree.slice(1)) expect((await gateway(t.token, 'GET', '/v1/orders/1')).status).toBe(200);
    expect((await gateway(tree[3]!.token, 'GET', '/v1/orders/1/items')).error).toBe('permission_denied');
    const shown = await admin('GET', `/v1/tokens/${root.id}`);
    expect(shown.body.tree.children[0].children[0].children[0].id).toBe(tree[3]!.id);

    expect((await admin('POST', `/v1/tokens/${root.id}/revoke`)).body.changed).toHaveLength(4);
    for (const t of tree) await until(async () => (await gateway(t.token, 'GET', '/v1/orders/1')).error === 'token_revoked');
  });
});

describe('usage, reports and narrowing over a simulated month', () => {
  const granted = [
    'orders:GET:/v1/orders/**', 'orders:POST:/v1/orders', 'orders:DELETE:/v1/orders/*', 'orders:PUT:/v1/orders/*', 'orders:PATCH:/v1/orders/*',
    'orders:GET:/v1/users/**', 'orders:GET:/v1/invoices/**', 'orders:POST:/v1/invoices', 'orders:GET:/v1/reports/*', 'orders:GET:/v1/admin/**',
  ];

  it('counts usage from gateway decisions; flags 8 of 10, suggests 2; narrow --dry-run refuses 0; after narrow the gateway agrees', async () => {
    const t = await mint(granted, 'sprawling');
    // Real requests through the gateway: counted in memory and flushed to the usage totals.
    for (const path of ['/v1/orders/17', '/v1/orders/42']) expect((await gateway(t.token, 'GET', path)).status).toBe(200);
    expect((await gateway(t.token, 'POST', '/v1/orders')).status).toBe(200);
    await until(async () => (await server.store.listUsage(t.id)).reduce((n, u) => n + u.count, 0) === 3);
    expect((await server.store.listUsage(t.id)).map((u) => [u.permission, u.count])).toEqual([['orders:GET:/v1/orders/**', 2], ['orders:POST:/v1/orders', 1]]);

    // The rest of the month, as the audit trail and a gateway's usage counter would hold it: 600 requests over
    // 30 days, counted and flushed the way a gateway node does it (totals and the daily rollup the report reads).
    const now = Date.now();
    const events: AuditEventInput[] = [];
    const month = new UsageCounter({ store: server.store, logger: pino({ level: 'silent' }), flushMs: 0, clock: () => now });
    for (let i = 0; i < 600; i++) {
      const post = i % 3 === 0;
      const time = Math.floor(now - 29 * DAY + i * (DAY / 21));
      const [action, resource, matched] = post ? ['POST', '/v1/orders', 'orders:POST:/v1/orders'] : ['GET', `/v1/orders/${i % 2 === 0 ? 17 : 42}`, 'orders:GET:/v1/orders/**'];
      events.push({ kind: 'decision', time, detail: aDecision({ tokenId: t.id, tokenName: 'sprawling', env: 'dev', service: 'orders', action, resource, matched }) });
      month.count(t.id, matched, 'orders', action, resource, time);
      if (i % 100 === 99) await month.flush();
    }
    await server.store.appendAudit(events);
    await month.close();
    expect((await server.store.listUsage(t.id)).map((u) => [u.permission, u.count])).toEqual([['orders:GET:/v1/orders/**', 402], ['orders:POST:/v1/orders', 201]]);

    const report = await admin('GET', '/v1/reports/overprivileged?days=30');
    const mine = report.body.items.find((item: { id: string }) => item.id === t.id);
    expect(mine.unused).toHaveLength(8);
    expect(mine.unused).not.toContain('orders:POST:/v1/orders');
    expect(mine.suggested).toEqual(['orders:GET:/v1/orders/*', 'orders:POST:/v1/orders']);

    const dry = await admin('POST', `/v1/tokens/${t.id}/narrow`, { to: 'suggested', dryRun: true });
    expect(dry.status).toBe(200);
    expect([dry.body.replay.requests, dry.body.replay.refused, dry.body.applied]).toEqual([603, 0, false]);
    const tighter = await admin('POST', `/v1/tokens/${t.id}/narrow`, { to: ['orders:GET:/v1/orders/17'], dryRun: true });
    // Only GET /v1/orders/17 is left: 1 real request and 200 of the month's 600 pass, 402 would be refused.
    expect(tighter.body.replay.refused).toBe(402);
    expect(tighter.body.replay.refusals.map((r: { resource: string }) => r.resource).sort()).toEqual(['/v1/orders', '/v1/orders/42']);

    const applied = await admin('POST', `/v1/tokens/${t.id}/narrow`, { to: 'suggested' });
    expect(applied.body.applied).toBe(true);
    // orders:PUT:/v1/orders/* was granted and never used: dropped.
    await until(async () => (await gateway(t.token, 'PUT', '/v1/orders/5')).error === 'permission_denied');
    expect((await gateway(t.token, 'PUT', '/v1/orders/5')).status).toBe(403);
    expect((await gateway(t.token, 'DELETE', '/v1/orders/5')).error).toBe('permission_denied');
    expect((await gateway(t.token, 'GET', '/v1/orders/42')).status).toBe(200);

    const unused = await admin('GET', '/v1/reports/unused?days=30');
    expect(unused.body.items.map((item: { id: string }) => item.id)).not.toContain(t.id);
  }, 60_000);
});
