// The cache follows the store: revocations, role and service changes apply to
// the very next request (in-process feed), unknown tokens cannot hammer the
// store, a hit costs no store round trip, and shutdown lets requests finish.
import { Client } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../store/records.js';
import { generateToken } from '../token/index.js';
import { binding, GatewayWorld, T0 } from './testing/world.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

let world: GatewayWorld;
let upstream: TestUpstream;
let lookups: number;

beforeEach(async () => {
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url)]);
  // Counts the real store's lookups; the store itself is untouched.
  lookups = 0;
  const find = world.store.findTokenByHash.bind(world.store);
  world.store.findTokenByHash = (hash: string) => {
    lookups++;
    return find(hash);
  };
  await world.start();
});
afterEach(() => world.close());

describe('changes', () => {
  it('a cache hit makes no store round trip', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    for (let i = 0; i < 20; i++) expect((await world.send('/orders/a', { token })).status).toBe(200);
    expect(lookups).toBe(1);
    const metrics = await world.registry.metrics();
    expect(metrics).toContain('latchkey_gateway_token_cache_hits_total 19');
    expect(metrics).toMatch(/latchkey_gateway_requests_total\{service="orders",decision="allow",reason="allowed"\} 20/);
  });

  it('revoking a cached token refuses the very next request', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:*'] });
    expect((await world.send('/orders/a', { token })).status).toBe(200);
    await world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
    expect((await world.send('/orders/a', { token })).json?.error).toBe('token_revoked');
  });

  it('on one keep-alive connection each request is judged by its own token, and a revocation refuses the next one', async () => {
    const reader = await world.issue({ permissions: ['orders:GET'] });
    const writer = await world.issue({ permissions: ['orders:POST'] });
    // One connection: the gateway keeps the last token's cache key per connection (TokenKeyMemo).
    const client = new Client(`http://127.0.0.1:${world.gateway.address.port}`, { pipelining: 1 });
    world.onCleanup(() => client.close());
    const send = async (token: string, method: 'GET' | 'POST') => {
      const reply = await client.request({ path: '/orders/a', method, headers: { authorization: `Bearer ${token}` } });
      const body = await reply.body.text();
      return reply.statusCode === 200 ? 200 : (JSON.parse(body) as { error: string }).error;
    };
    const sockets = new Set<string>();
    client.on('connect', (origin) => sockets.add(String(origin)));
    for (let i = 0; i < 3; i++) {
      expect(await send(reader.token, 'GET')).toBe(200);
      expect(await send(reader.token, 'POST')).toBe('permission_denied');
      expect(await send(writer.token, 'POST')).toBe(200);
      expect(await send(writer.token, 'GET')).toBe('permission_denied');
    }
    await world.store.setTokenStatus(reader.record.id, 'revoked', SYSTEM_ACTOR);
    expect(await send(reader.token, 'GET')).toBe('token_revoked');
    expect(await send(writer.token, 'POST')).toBe(200);
    expect(await send(reader.token, 'GET')).toBe('token_revoked');
    expect(await send(`${reader.token.slice(0, -1)}${reader.token.endsWith('a') ? 'b' : 'a'}`, 'GET')).toBe('token_malformed');
    expect(sockets.size).toBe(1);
  });

  it('a child stops working when its parent is revoked or disabled', async () => {
    const parent = await world.issue({ permissions: ['orders:*'] });
    const child = await world.issue({ permissions: ['orders:read'], parentId: parent.record.id });
    const grandchild = await world.issue({ permissions: ['orders:read'], parentId: child.record.id });
    expect((await world.send('/orders/a', { token: grandchild.token })).status).toBe(200);
    await world.store.setTokenStatus(parent.record.id, 'disabled', SYSTEM_ACTOR);
    expect((await world.send('/orders/a', { token: grandchild.token })).json?.error).toBe('token_disabled');
    await world.store.setTokenStatus(parent.record.id, 'active', SYSTEM_ACTOR);
    expect((await world.send('/orders/a', { token: grandchild.token })).status).toBe(200);
    await world.store.setTokenStatus(parent.record.id, 'revoked', SYSTEM_ACTOR);
    expect((await world.send('/orders/a', { token: child.token })).json?.error).toBe('token_revoked');
    expect((await world.send('/orders/a', { token: grandchild.token })).json?.error).toBe('token_revoked');
  });

  it('narrowing a role takes its permissions away at once; a held role cannot be deleted from under its tokens', async () => {
    await world.store.createRole({ name: 'reader', description: '', permissions: ['orders:read'], createdAt: T0, updatedAt: T0 }, SYSTEM_ACTOR);
    // The store judges "live" by its own clock, which this world does not freeze.
    const { token } = await world.issue({ roles: ['reader'], expiresAt: Date.now() + 3_600_000 });
    expect((await world.send('/orders/a', { token })).status).toBe(200);
    expect((await world.send('/orders/b', { token })).status).toBe(200);
    await expect(world.store.deleteRole('reader', SYSTEM_ACTOR)).rejects.toMatchObject({ code: 'conflict' });
    const narrowed = { name: 'reader', description: '', permissions: ['orders:read:/b'], createdAt: T0, updatedAt: T0 + 1 };
    await world.store.updateRole(narrowed, SYSTEM_ACTOR, { expected: ['orders:read'], widens: false });
    expect((await world.send('/orders/a', { token })).json?.error).toBe('permission_denied');
    expect((await world.send('/orders/b', { token })).status).toBe(200);
  });

  it('a service added, changed or removed is routed accordingly without a restart', async () => {
    const { token } = await world.issue({ permissions: ['orders:*', 'billing:*'] });
    expect((await world.send('/billing/x', { token })).json?.error).toBe('service_unknown');
    const other = await startUpstream();
    world.onCleanup(() => other.close());
    await world.addService('billing', [binding('prod', `${other.url}/b`)]);
    await waitUntil(async () => (await world.send('/billing/x', { token })).status === 200);
    const service = (await world.store.getService('billing'))!;
    await world.store.updateService({ ...service, bindings: [binding('prod', `${upstream.url}/moved`)] }, SYSTEM_ACTOR);
    await waitUntil(async () => (await world.send('/billing/y', { token })).status === 200 && upstream.seen.some((r) => r.url === '/moved/y'));
    await world.store.removeService('billing', SYSTEM_ACTOR);
    await waitUntil(async () => (await world.send('/billing/x', { token })).json?.error === 'service_unknown');
    expect(other.seen.map((r) => r.url)).toEqual(['/b/x']);
  });

  it('an unknown token is looked up once, then remembered until a token is created', async () => {
    const text = generateToken('prod');
    for (let i = 0; i < 10; i++) expect((await world.send('/orders/a', { token: text })).json?.error).toBe('token_unknown');
    expect(lookups).toBe(1);
    await world.issue({ permissions: ['orders:*'] });
    expect((await world.send('/orders/a', { token: text })).json?.error).toBe('token_unknown');
    expect(lookups).toBe(2);
    world.now += 10_000;
    await world.send('/orders/a', { token: text });
    expect(lookups).toBe(3);
  });

  it('concurrent misses of one token share one lookup', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const replies = await Promise.all(Array.from({ length: 20 }, () => world.send('/orders/a', { token })));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(lookups).toBe(1);
  });

  it('close() lets an in-flight request finish, then refuses connections', async () => {
    upstream.handle((_req, res) => setTimeout(() => res.end('done'), 300));
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const inFlight = world.send('/orders/slow', { token });
    await new Promise((r) => setTimeout(r, 100));
    const closed = world.gateway.close();
    expect((await inFlight).text).toBe('done');
    await closed;
    await expect(world.send('/orders/a', { token })).rejects.toThrow();
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
