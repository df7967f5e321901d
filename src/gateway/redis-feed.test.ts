// The Redis change feed: a node on a PostgreSQL store that follows changes
// through Redis pub/sub, fed by the admin side's publisher; and what it does
// when that Redis goes away (a private redis-server, killed).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisChangePublisher, type RedisChangePublisher } from '../core/feed/index.js';
import type { HttpGateway } from './gateway.js';
import { openPostgresStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { freePort, startRedis } from './testing/redis-server.js';
import { startUpstream } from './testing/upstream.js';
import { binding, GatewayWorld } from './testing/world.js';

let world: GatewayWorld;
let redis: ChildProcess;
let publisher: RedisChangePublisher;
let node: HttpGateway;

beforeAll(async () => {
  world = await GatewayWorld.postgres();
  const upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url)]);
  const port = await freePort();
  redis = await startRedis(port);
  world.onCleanup(() => {
    redis.kill('SIGKILL');
  });
  const url = `redis://127.0.0.1:${port}`;
  // The admin side publishes what it commits; the node has no PostgreSQL LISTEN, only Redis.
  publisher = createRedisChangePublisher({ url, store: world.store, logger: world.logger });
  world.onCleanup(() => publisher.close());
  const nodeStore = await openPostgresStore({ url: world.pgUrl! });
  node = await world.startNode(nodeStore, { feed: 'redis', redisUrl: url, clock: Date.now, feedHeartbeatMs: 100, maxStalenessMs: 1000 });
}, 60_000);
afterAll(() => world.close());

const send = (token: string) => world.send('/orders/a', { token, gateway: node });

describe('redis change feed', () => {
  it('is the feed in use', () => {
    expect(node.feed).toBe('redis');
    expect(node.ready()).toBe(true);
  });

  it('a revocation committed elsewhere reaches the node through Redis', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
    expect((await send(token)).status).toBe(200);
    await world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
    const started = Date.now();
    let reply = await send(token);
    while (reply.status === 200 && Date.now() - started < 2000) reply = await send(token);
    expect(reply.json?.error).toBe('token_revoked');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('losing Redis fails closed: uncached tokens at once, cached ones after the staleness bound', async () => {
    const cached = await world.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
    const uncached = await world.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
    // Twice: the first request may be answered before the token's own creation notice drops it.
    await send(cached.token);
    await new Promise((r) => setTimeout(r, 200));
    expect((await send(cached.token)).status).toBe(200);
    redis.kill('SIGKILL');
    await new Promise((r) => redis.once('exit', r));
    const killedAt = Date.now();
    let refused = await send(uncached.token);
    while (refused.status !== 503 && Date.now() - killedAt < 1000) refused = await send(uncached.token);
    expect(refused.json?.error).toBe('store_unavailable');
    expect((await send(cached.token)).status).toBe(200);
    let stale = await send(cached.token);
    while (stale.status === 200 && Date.now() - killedAt < 3000) stale = await send(cached.token);
    expect(stale.json?.error).toBe('store_unavailable');
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(700);
    expect(node.ready()).toBe(false);
  });
});
