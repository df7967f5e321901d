// Several gateway nodes on one PostgreSQL store and one Redis: revocations
// reach every node through LISTEN/NOTIFY within 100 ms, usage caps hold
// exactly across nodes, a shared rate limit holds within 5%. The last cases
// run the nodes as separate processes (`runGatewayNode`).
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import type { HttpGateway } from './gateway.js';
import { compileGatewayEntry, spawnGatewayProcess, type CompiledEntry, type NodeProcess } from './testing/spawn-node.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { binding, GatewayWorld } from './testing/world.js';

const REDIS = 'redis://127.0.0.1:6379';
let world: GatewayWorld;
let upstream: TestUpstream;
let nodes: HttpGateway[];

async function status(port: number, token: string, path = '/orders/a'): Promise<number> {
  const reply = await request(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await reply.body.dump();
  return reply.statusCode;
}

/** Milliseconds from now until `port` refuses `token` (polling as fast as requests return). */
async function untilRefused(port: number, token: string, limitMs = 2000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < limitMs) if ((await status(port, token)) === 401) return performance.now() - start;
  return Number.POSITIVE_INFINITY;
}

/**
 * Delay from the revoke's commit to a refused response, request time included.
 * The median must meet the 100 ms goal; single samples get slack because this
 * machine is shared and a scheduling stall is not a propagation failure
 * (`npm run bench -- gateway` reports p50/p99 over 100 revocations).
 */
function expectPropagation(delays: number[]): void {
  const sorted = [...delays].sort((a, b) => a - b);
  expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThanOrEqual(100);
  expect(sorted.at(-1)).toBeLessThanOrEqual(1000);
}

beforeAll(async () => {
  world = await GatewayWorld.postgres();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url)]);
  // Real time: GCRA and the Redis script run on real clocks here.
  world.now = Date.now();
  Object.defineProperty(world, 'clock', { value: Date.now });
  nodes = [];
  for (const name of ['gw-a', 'gw-b']) {
    const store = await openPostgresStore({ url: world.pgUrl! });
    nodes.push(await world.startNode(store, { nodeName: name, pgUrl: world.pgUrl!, redisUrl: REDIS, clock: Date.now, feedHeartbeatMs: 200 }));
  }
}, 60_000);
afterAll(() => world.close());

describe('two in-process nodes on PostgreSQL + Redis', () => {
  it('uses the PostgreSQL feed', () => {
    expect(nodes.map((n) => n.feed)).toEqual(['postgres', 'postgres']);
  });

  it('a revocation committed through another store instance reaches both nodes within 100 ms', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { token, record } = await world.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
      for (const node of nodes) expect(await status(node.address.port, token)).toBe(200);
      await world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
      delays.push(...(await Promise.all(nodes.map((node) => untilRefused(node.address.port, token)))));
    }
    expectPropagation(delays);
  });

  it('a usage cap of N lets exactly N requests through across both nodes under concurrent load', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'], maxUses: 37, expiresAt: Date.now() + 3_600_000 });
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => status(nodes[i % 2]!.address.port, token)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(37);
    expect(statuses.filter((s) => s === 429)).toHaveLength(163);
  });

  it('a shared rate limit holds within 5% of its configured rate across both nodes', async () => {
    const rate = { count: 100, periodMs: 1000 };
    const { token } = await world.issue({ permissions: ['orders:GET:/a'], rate, expiresAt: Date.now() + 3_600_000 });
    // Each node loads the token first with a request its permissions refuse (authorization comes before the
    // limit, so no slot is spent): the measured window then starts with the limiter, not with two store lookups.
    for (const node of nodes) expect(await status(node.address.port, token, '/orders/b')).toBe(403);
    let allowed = 0;
    const started = performance.now();
    const durationMs = 3000;
    const worker = async (port: number) => {
      while (performance.now() - started < durationMs) if ((await status(port, token)) === 200) allowed++;
    };
    await Promise.all(Array.from({ length: 16 }, (_, i) => worker(nodes[i % 2]!.address.port)));
    const elapsed = (performance.now() - started) / 1000;
    // GCRA admits a full burst of `count`, then `count` per period.
    const expected = rate.count + (rate.count * elapsed * 1000) / rate.periodMs;
    expect(Math.abs(allowed - expected) / expected, `${allowed} allowed in ${elapsed.toFixed(2)} s, ${expected.toFixed(1)} expected`).toBeLessThanOrEqual(0.05);
  });
});

describe('two gateway processes (runGatewayNode) on PostgreSQL + Redis', () => {
  let entry: CompiledEntry;
  let processes: NodeProcess[];
  const key = randomBytes(32);

  beforeAll(async () => {
    entry = compileGatewayEntry();
    // The processes need the same server key as the admin side that hashed the tokens.
    Object.defineProperty(world, 'hasher', { value: new (await import('../token/index.js')).TokenHasher(key) });
    processes = await Promise.all(
      ['proc-a', 'proc-b'].map((nodeName) =>
        spawnGatewayProcess(entry.nodeMain, {
          env: 'prod',
          store: world.pgUrl,
          hashKey: key.toString('base64'),
          listen: { host: '127.0.0.1', port: 0 },
          opsListen: { host: '127.0.0.1', port: 0 },
          redisUrl: REDIS,
          nodeName,
          gateway: { feedHeartbeatMs: 200 },
        }),
      ),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.all(processes?.map((p) => p.stop()) ?? []);
    entry?.cleanup();
  });

  it('a revocation reaches both processes within 100 ms', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { token, record } = await world.issue({ permissions: ['orders:*'], expiresAt: Date.now() + 3_600_000 });
      for (const p of processes) expect(await status(p.port, token)).toBe(200);
      await world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
      delays.push(...(await Promise.all(processes.map((p) => untilRefused(p.port, token)))));
    }
    expectPropagation(delays);
  });

  it('a usage cap holds exactly across the processes', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'], maxUses: 25, expiresAt: Date.now() + 3_600_000 });
    const statuses = await Promise.all(Array.from({ length: 120 }, (_, i) => status(processes[i % 2]!.port, token)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(25);
  });

  it('each process serves /metrics and /readyz on its ops listener', async () => {
    for (const p of processes) {
      const ready = await request(`http://127.0.0.1:${p.opsPort}/readyz`);
      expect(ready.statusCode).toBe(200);
      await ready.body.dump();
      const metrics = await (await request(`http://127.0.0.1:${p.opsPort}/metrics`)).body.text();
      expect(metrics).toContain('latchkey_gateway_requests_total{service="orders",decision="allow",reason="allowed"}');
      expect(metrics).toContain('latchkey_gateway_feed_healthy 1');
    }
  });
});
