// Faults, with the real thing failing: PostgreSQL made unreachable for one node
// (a TCP relay in front of the shared server is cut), a private redis-server
// killed mid-run, an upstream that dies or stalls.
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditRecorder } from '../audit/index.js';
import { openPostgresStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { freePort, startRedis } from './testing/redis-server.js';
import { startTcpRelay } from './testing/tcp-proxy.js';
import { startUpstream } from './testing/upstream.js';
import { binding, GatewayWorld } from './testing/world.js';

let world: GatewayWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('PostgreSQL unreachable', () => {
  it('refuses uncached tokens at once, serves cached ones until the staleness bound, then resyncs', async () => {
    world = await GatewayWorld.postgres();
    const w = world;
    const upstream = await startUpstream();
    w.onCleanup(() => upstream.close());
    await w.addService('orders', [binding('prod', upstream.url)]);
    const url = new URL(w.pgUrl!);
    const relay = await startTcpRelay(url.hostname, Number(url.port || 5432));
    w.onCleanup(() => relay.close());
    const relayed = new URL(w.pgUrl!);
    relayed.port = String(relay.port);
    // The node reads tokens and follows changes through the relay; its audit log stays writable.
    const nodeStore = await openPostgresStore({ url: relayed.toString() });
    const auditStore = await openPostgresStore({ url: w.pgUrl! });
    w.onCleanup(() => auditStore.close());
    const recorder = createAuditRecorder({ store: auditStore, failMode: 'closed' });
    w.onCleanup(() => recorder.close());
    const registry = new Registry();
    const node = await w.startNode(nodeStore, {
      pgUrl: relayed.toString(),
      clock: Date.now,
      feedHeartbeatMs: 100,
      maxStalenessMs: 1500,
      recorder,
      metrics: registry,
    });
    const expiresAt = Date.now() + 3_600_000;
    const cached = await w.issue({ permissions: ['orders:*'], expiresAt });
    const uncached = await w.issue({ permissions: ['orders:*'], expiresAt });
    const revokedMeanwhile = await w.issue({ permissions: ['orders:*'], expiresAt });
    const send = (token: string) => w.send('/orders/a', { token, gateway: node });
    // Cached for sure: the creations' own notifications (which drop the entry) may land after a first request.
    const hits = async () => Number(/latchkey_gateway_token_cache_hits_total (\d+)/.exec(await registry.metrics())?.[1]);
    for (const token of [cached.token, revokedMeanwhile.token]) {
      await until(
        async () => {
          const before = await hits();
          expect((await send(token)).status).toBe(200);
          return (await hits()) > before;
        },
        (hit) => hit,
      );
    }

    await relay.cut();
    const cutAt = Date.now();
    const refused = await until(() => send(uncached.token), (r) => r.status === 503, 1000);
    expect(refused.json?.error).toBe('store_unavailable');
    expect((await send(cached.token)).status).toBe(200);
    expect(node.ready()).toBe(false);
    expect(await registry.metrics()).toContain('latchkey_gateway_feed_healthy 0');
    // Revoked while this node cannot hear it: allowed at most until the staleness bound.
    await w.store.setTokenStatus(revokedMeanwhile.record.id, 'revoked', SYSTEM_ACTOR);
    const stale = await until(() => send(cached.token), (r) => r.status === 503, 4000);
    const staleAfter = Date.now() - cutAt;
    expect(stale.json?.error).toBe('store_unavailable');
    expect(staleAfter).toBeGreaterThanOrEqual(1200);
    expect(staleAfter).toBeLessThanOrEqual(2500);
    expect((await send(revokedMeanwhile.token)).json?.error).toBe('store_unavailable');

    await relay.restore();
    await until(async () => node.ready(), (ready) => ready, 6000);
    expect((await send(cached.token)).status).toBe(200);
    expect((await send(uncached.token)).status).toBe(200);
    // The cache was flushed on reconnect: the revocation missed during the outage now applies.
    expect((await send(revokedMeanwhile.token)).json?.error).toBe('token_revoked');
  });
});

describe('Redis stopped', () => {
  it('falls back to local limits, says so once, keeps serving and keeps the usage count it knew', async () => {
    world = await GatewayWorld.sqlite();
    const w = world;
    const upstream = await startUpstream();
    w.onCleanup(() => upstream.close());
    await w.addService('orders', [binding('prod', upstream.url)]);
    const port = await freePort();
    let redis = await startRedis(port);
    w.onCleanup(() => {
      redis.kill('SIGKILL');
    });
    await w.start({ redisUrl: `redis://127.0.0.1:${port}`, clock: Date.now });
    const { token, record } = await w.issue({ permissions: ['orders:*'], maxUses: 5, rate: { count: 1000, periodMs: 1000 }, expiresAt: Date.now() + 3_600_000 });
    expect((await w.send('/orders/a', { token })).status).toBe(200);
    expect((await w.send('/orders/a', { token })).status).toBe(200);
    const inspect = new Redis(port, '127.0.0.1');
    expect(await inspect.get(`latchkey:{${record.id}}:uses`)).toBe('2');
    inspect.disconnect();
    expect(await w.registry.metrics()).toContain('latchkey_limits_fallback 0');

    redis.kill('SIGKILL');
    await new Promise((r) => redis.once('exit', r));
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await w.send('/orders/a', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await w.registry.metrics()).toContain('latchkey_limits_fallback 1');
    expect(w.logs.filter((line) => line.includes('redis unavailable'))).toHaveLength(1);
    const other = await w.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
    expect((await w.send('/orders/a', { token: other.token })).status).toBe(200);

    redis = await startRedis(port);
    await until(async () => w.registry.metrics(), (text) => text.includes('latchkey_limits_fallback 0'), 5000);
    expect(await w.registry.metrics()).toContain('latchkey_limits_fallback 0');
    // The three uses counted locally meanwhile were handed to the new Redis.
    const after = new Redis(port, '127.0.0.1');
    expect(await until(() => after.get(`latchkey:{${record.id}}:uses`), (v) => v === '3', 2000)).toBe('3');
    after.disconnect();
  });
});

describe('upstream faults', () => {
  it('502 while the upstream is down, 200 once it is back', async () => {
    world = await GatewayWorld.sqlite();
    const w = world;
    let upstream = await startUpstream();
    const port = upstream.port;
    await w.addService('orders', [binding('prod', upstream.url)]);
    await w.start({ clock: Date.now });
    const { token } = await w.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
    expect((await w.send('/orders/a', { token })).status).toBe(200);
    await upstream.close();
    const down = await w.send('/orders/a', { token });
    expect(down.status).toBe(502);
    expect(down.json?.error).toBe('upstream_unreachable');
    upstream = await startUpstream({ port });
    w.onCleanup(() => upstream.close());
    expect((await w.send('/orders/a', { token })).status).toBe(200);
  });

  it('504 when headers are late or the body stalls before anything was sent; a stalled stream is cut; all audited as upstream_timeout', async () => {
    world = await GatewayWorld.sqlite();
    const w = world;
    const upstream = await startUpstream();
    w.onCleanup(() => upstream.close());
    await w.addService('orders', [binding('prod', upstream.url)]);
    // Generous against a loaded machine: headers have 1 s, a stalled body 300 ms.
    await w.start({ clock: Date.now, timeouts: { upstreamHeadersMs: 1000, upstreamBodyMs: 300 } });
    const { token } = await w.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
    upstream.handle((_req, res) => setTimeout(() => res.end('late'), 2500));
    const late = await w.send('/orders/late', { token });
    expect(late.status).toBe(504);
    expect(late.json?.error).toBe('upstream_timeout');
    // Stalled after one chunk: nothing was sent yet (the last chunk is always held), so a clean 504.
    upstream.handle((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial');
    });
    const early = await w.send('/orders/early', { token });
    expect(early.status).toBe(504);
    // Stalled after two: the answer was already streaming, so it is cut.
    upstream.handle((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial-1');
      setTimeout(() => res.write('partial-2'), 50);
    });
    const reply = await request(`${w.base}/orders/stall`, { headers: { authorization: `Bearer ${token}` } });
    expect(reply.statusCode).toBe(200);
    await expect(reply.body.text()).rejects.toThrow();
    const events = await w.decisions();
    expect(events.find((e) => e.resource === '/stall')).toMatchObject({ decision: 'allow', reason: 'upstream_timeout', upstreamStatus: 200 });
    expect(events.find((e) => e.resource === '/late')).toMatchObject({ reason: 'upstream_timeout', upstreamStatus: null });
    expect(events.find((e) => e.resource === '/early')).toMatchObject({ reason: 'upstream_timeout', upstreamStatus: 200 });
  });
});
