// Every reason code of DESIGN.md's table, each produced by a real request
// through a real gateway on a real SQLite store to a real loopback upstream:
// first the reason-code contract every protocol adapter runs
// (core/reason.contract.ts), then what is HTTP's own (WWW-Authenticate,
// Retry-After, byte-identical bodies, method overrides, forwarding).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runReasonContract } from '../core/reason.contract.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { generateToken } from '../token/index.js';
import { httpReasonAdapter } from './testing/http-reason-adapter.js';
import { binding, envCredential, GatewayWorld } from './testing/world.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { createServer } from 'node:http';
import { createAuditRecorder } from '../audit/index.js';
import type { AddressInfo } from 'node:net';

runReasonContract('http', httpReasonAdapter);

let world: GatewayWorld;
let upstream: TestUpstream;

async function reader(overrides = {}) {
  return world.issue({ permissions: ['orders:read:/v1/orders/**'], ...overrides });
}

describe('reason codes', () => {
  beforeEach(async () => {
    process.env.PROD_ORDERS_SECRET = 'upstream-secret-value';
    world = await GatewayWorld.sqlite();
    upstream = await startUpstream();
    world.onCleanup(() => upstream.close());
    await world.addService('orders', [binding('prod', `${upstream.url}/api`, envCredential('PROD_ORDERS_SECRET')), binding('staging', `${upstream.url}/staging`)]);
    // Short enough for the 504 case, long enough for every other upstream answer on a loaded machine.
    await world.start({ timeouts: { upstreamHeadersMs: 1000 } });
  });
  afterEach(() => world.close());

  it('allows a granted request and forwards it', async () => {
    const { token } = await reader();
    const reply = await world.send('/orders/v1/orders/7', { token });
    expect(reply.status).toBe(200);
    expect(upstream.seen.map((r) => r.url)).toEqual(['/api/v1/orders/7']);
  });

  it('token_missing: no Authorization header', async () => {
    const reply = await world.send('/orders/v1/orders/7');
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual({ error: 'token_missing', message: expect.any(String) });
    expect(reply.headers['www-authenticate']).toBe('Bearer realm="latchkey"');
  });

  it('token_malformed: a bad checksum is refused without a lookup', async () => {
    const good = generateToken('prod');
    const bad = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
    expect((await world.send('/orders/v1/orders/7', { token: bad })).json?.error).toBe('token_malformed');
    expect((await world.send('/orders/v1/orders/7', { headers: { authorization: `Basic ${good}` } })).json?.error).toBe('token_malformed');
  });

  it('token_unknown: well-formed but never issued, and a honeytoken looks the same', async () => {
    const unknown = await world.send('/orders/v1/orders/7', { token: generateToken('prod') });
    const { token: honey, record } = await reader({ honey: true });
    const trapped = await world.send('/orders/v1/orders/7', { token: honey });
    expect(unknown.status).toBe(401);
    expect(trapped.status).toBe(401);
    expect(trapped.text).toBe(unknown.text);
    expect(trapped.headers['content-length']).toBe(unknown.headers['content-length']);
    const events = await world.decisions();
    expect(events.find((e) => e.tokenId === record.id)).toMatchObject({ reason: 'token_unknown', decision: 'deny' });
    expect(world.logs.some((line) => line.includes('honeytoken presented'))).toBe(true);
  });

  it('token_expired and token_not_yet_valid follow the clock', async () => {
    const { token } = await reader({ expiresAt: world.now + 1000, notBefore: world.now + 500 });
    expect((await world.send('/orders/v1/orders/7', { token })).json?.error).toBe('token_not_yet_valid');
    world.now += 500;
    expect((await world.send('/orders/v1/orders/7', { token })).status).toBe(200);
    world.now += 500;
    expect((await world.send('/orders/v1/orders/7', { token })).json?.error).toBe('token_expired');
  });

  it('token_revoked and token_disabled', async () => {
    const revoked = await reader();
    const disabled = await reader();
    await world.store.setTokenStatus(revoked.record.id, 'revoked', SYSTEM_ACTOR);
    await world.store.setTokenStatus(disabled.record.id, 'disabled', SYSTEM_ACTOR);
    expect((await world.send('/orders/v1/orders/7', { token: revoked.token })).json?.error).toBe('token_revoked');
    expect((await world.send('/orders/v1/orders/7', { token: disabled.token })).json?.error).toBe('token_disabled');
  });

  it('permission_denied: outside the grant, and a deny beats an allow', async () => {
    const { token } = await world.issue({ permissions: ['orders:read:/v1/**', '!orders:read:/v1/admin/**'] });
    const post = await world.send('/orders/v1/orders/7', { token, method: 'POST', body: '{}' });
    expect(post.status).toBe(403);
    expect(post.json?.error).toBe('permission_denied');
    expect((await world.send('/orders/v1/admin/users', { token })).json?.error).toBe('permission_denied');
    expect(upstream.seen).toHaveLength(0);
  });

  it('env_mismatch: a staging token on a prod node', async () => {
    const { token } = await reader({ env: 'staging' });
    const reply = await world.send('/orders/v1/orders/7', { token });
    expect(reply.status).toBe(403);
    expect(reply.json?.error).toBe('env_mismatch');
  });

  it('ip_not_allowed: the client address is outside the token CIDRs', async () => {
    const outside = await reader({ cidrs: ['10.0.0.0/8'] });
    const inside = await reader({ cidrs: ['10.0.0.0/8', '127.0.0.0/8'] });
    expect((await world.send('/orders/v1/orders/7', { token: outside.token })).json?.error).toBe('ip_not_allowed');
    expect((await world.send('/orders/v1/orders/7', { token: inside.token })).status).toBe(200);
  });

  it('request_ambiguous: an encoded slash in the path', async () => {
    const { token } = await reader();
    const reply = await world.send('/orders/v1/orders%2F..%2Fadmin', { token });
    expect(reply.status).toBe(403);
    expect(reply.json?.error).toBe('request_ambiguous');
    expect(upstream.seen).toHaveLength(0);
  });

  it('request_ambiguous: a path a case-insensitive upstream folds differently, or a method override that names no method', async () => {
    await world.addService('folding', [binding('prod', `${upstream.url}/api`)], { paths: 'case-insensitive' });
    await world.gateway.reloadServices();
    const { token } = await world.issue({ permissions: ['folding:*', 'orders:*'] });
    const dotless = await world.send('/folding/v1/adm%C4%B1n', { token });
    expect(dotless.status).toBe(403);
    expect(dotless.json?.error).toBe('request_ambiguous');
    const override = await world.send('/orders/v1/orders/7', { token, method: 'POST', body: '{}', headers: { 'x-http-method-override': 'PROPFIND' } });
    expect(override.status).toBe(403);
    expect(override.json?.error).toBe('request_ambiguous');
    expect(upstream.seen).toHaveLength(0);
  });

  it('permission_denied: a method override to a method the token was not granted, audited as that method', async () => {
    const { token } = await world.issue({ permissions: ['orders:POST:/v1/orders/**'] });
    const reply = await world.send('/orders/v1/orders/7?_method=DELETE', { token, method: 'POST', body: '{}' });
    expect(reply.status).toBe(403);
    expect(reply.json?.error).toBe('permission_denied');
    expect(upstream.seen).toHaveLength(0);
    expect((await world.decisions()).at(-1)).toMatchObject({ action: 'DELETE', override: 'POST with ?_method', reason: 'permission_denied' });
  });

  it('service_unknown: the same answer with no token, a good token, or a bad one', async () => {
    const { token } = await reader();
    const replies = await Promise.all([
      world.send('/nope/v1/orders/7'),
      world.send('/nope/v1/orders/7', { token }),
      world.send('/nope/v1/orders/7', { token: 'garbage' }),
    ]);
    for (const reply of replies) {
      expect(reply.status).toBe(404);
      expect(reply.text).toBe(replies[0]!.text);
    }
    expect(replies[0]!.json?.error).toBe('service_unknown');
  });

  it('rate_limited with Retry-After, and it spends no use', async () => {
    const { token } = await reader({ rate: { count: 2, periodMs: 60_000 }, maxUses: 3 });
    expect((await world.send('/orders/v1/orders/1', { token })).status).toBe(200);
    expect((await world.send('/orders/v1/orders/2', { token })).status).toBe(200);
    const limited = await world.send('/orders/v1/orders/3', { token });
    expect(limited.status).toBe(429);
    expect(limited.json?.error).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBe(30);
    world.now += 30_000;
    expect((await world.send('/orders/v1/orders/4', { token })).status).toBe(200);
    world.now += 30_000;
    const exhausted = await world.send('/orders/v1/orders/5', { token });
    expect(exhausted.status).toBe(429);
    expect(exhausted.json?.error).toBe('usage_exhausted');
    expect(exhausted.headers['retry-after']).toBeUndefined();
  });

  it('usage_exhausted after exactly maxUses requests', async () => {
    const { token } = await reader({ maxUses: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await world.send('/orders/v1/orders/1', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(upstream.seen).toHaveLength(3);
  });

  it('upstream_unreachable: 502 when nothing listens', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    await world.addService('ghost', [binding('prod', `http://127.0.0.1:${port}`)]);
    await world.gateway.reloadServices();
    const { token } = await world.issue({ permissions: ['ghost:*'] });
    const reply = await world.send('/ghost/x', { token });
    expect(reply.status).toBe(502);
    expect(reply.json?.error).toBe('upstream_unreachable');
  });

  it('upstream_timeout: 504 when the upstream does not answer in time', async () => {
    upstream.handle((_req, res) => setTimeout(() => res.end('late'), 3000));
    const { token } = await reader();
    const reply = await world.send('/orders/v1/orders/7', { token });
    expect(reply.status).toBe(504);
    expect(reply.json?.error).toBe('upstream_timeout');
  });

  it('store_unavailable: an uncached token when the store cannot be read', async () => {
    const cached = await reader();
    const uncached = await reader();
    expect((await world.send('/orders/v1/orders/7', { token: cached.token })).status).toBe(200);
    await world.store.close();
    const reply = await world.send('/orders/v1/orders/7', { token: uncached.token });
    expect(reply.status).toBe(503);
    expect(reply.json?.error).toBe('store_unavailable');
  });

  it('audit_unavailable once the audit log cannot be written (failMode closed)', async () => {
    const { token } = await reader();
    // The real recorder, writing to an audit store that refuses every batch.
    const failing = createAuditRecorder({ store: { appendAudit: () => Promise.reject(new Error('disk full')) }, failMode: 'closed', retryInitialMs: 10_000, closeTimeoutMs: 500 });
    world.onCleanup(() => failing.close());
    await world.gateway.close();
    await world.start({ recorder: failing });
    // The first request reaches the upstream, but its answer is held until its event is durable, which it never is.
    const first = await world.send('/orders/v1/orders/7', { token });
    expect(first.status).toBe(503);
    expect(first.json?.error).toBe('audit_unavailable');
    expect(failing.accepting).toBe(false);
    // From then on nothing is forwarded.
    const reply = await world.send('/orders/v1/orders/7', { token });
    expect(reply.status).toBe(503);
    expect(reply.json?.error).toBe('audit_unavailable');
    expect(upstream.seen).toHaveLength(1);
  });
});
