// What each side is told about the other (issue 17): a request id on every
// request, answer and audit event; X-Forwarded-Host/-Proto/-Prefix for the
// upstream; and the upstream's redirects rewritten to the gateway's address,
// so `Location` never shows where the upstream lives. Real gateway, real
// loopback upstream, real SQLite audit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { binding, GatewayWorld } from './testing/world.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

let world: GatewayWorld;
let upstream: TestUpstream;

beforeEach(async () => {
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', `${upstream.url}/api`)]);
  await world.start();
});
afterEach(() => world.close());

describe('request ids', () => {
  it('keeps a well-formed client id end to end: upstream, answer and audit event', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const reply = await world.send('/orders/v1/orders/7', { token, headers: { 'x-request-id': 'trace-7f3a:01' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-request-id']).toBe('trace-7f3a:01');
    expect(upstream.seen.at(-1)!.headers['x-request-id']).toBe('trace-7f3a:01');
    expect((await world.decisions()).at(-1)).toMatchObject({ requestId: 'trace-7f3a:01', reason: 'allowed' });
  });

  it('replaces an ill-formed one, and gives each request its own', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const odd = await world.send('/orders/v1/orders/7', { token, headers: { 'x-request-id': 'has spaces and "quotes"' } });
    const long = await world.send('/orders/v1/orders/7', { token, headers: { 'x-request-id': 'x'.repeat(129) } });
    const none = await world.send('/orders/v1/orders/7', { token });
    const ids = [odd, long, none].map((reply) => reply.headers['x-request-id']);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(new Set(ids).size).toBe(3);
    expect(upstream.seen.map((seen) => seen.headers['x-request-id'])).toEqual(ids);
    expect((await world.decisions()).map((event) => event.requestId)).toEqual(ids);
  });

  it('is on refusals too, before and after the token is known, and in their events', async () => {
    const unknownService = await world.send('/nope/x', { headers: { 'x-request-id': 'r-1' } });
    const noToken = await world.send('/orders/x', { headers: { 'x-request-id': 'r-2' } });
    const { token } = await world.issue({ permissions: ['orders:read'] });
    const denied = await world.send('/orders/x', { method: 'DELETE', token, headers: { 'x-request-id': 'r-3' } });
    expect([unknownService, noToken, denied].map((r) => [r.status, r.headers['x-request-id']])).toEqual([[404, expect.stringMatching(/^[0-9a-f]{12}-/)], [401, 'r-2'], [403, 'r-3']]);
    const events = await world.decisions();
    expect(events.find((e) => e.reason === 'permission_denied')).toMatchObject({ requestId: 'r-3' });
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('the upstream learns how the client reached it, never more', () => {
  it('sets X-Forwarded-Host, -Proto and -Prefix from the request itself, replacing forged ones', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    await world.send('/orders/v1/orders/7', { token, headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/admin' } });
    const seen = upstream.seen.at(-1)!;
    expect([seen.headers['x-forwarded-host'], seen.headers['x-forwarded-proto'], seen.headers['x-forwarded-prefix']])
      .toEqual([`127.0.0.1:${world.gateway.address.port}`, 'http', '/orders']);
  });
});

describe('redirects', () => {
  const cases: Array<[string, string]> = [
    // Absolute, into the upstream under its base: the gateway's address for the service.
    ['ABSOLUTE/api/v1/orders/8?x=1', 'GATEWAY/orders/v1/orders/8?x=1'],
    ['ABSOLUTE/api', 'GATEWAY/orders'],
    // A path under the base.
    ['/api/v1/orders/9', '/orders/v1/orders/9'],
    // Outside the base, or elsewhere: left as sent.
    ['/other/place', '/other/place'],
    ['ABSOLUTE/apix/1', 'ABSOLUTE/apix/1'],
    ['https://login.example.com/authorize', 'https://login.example.com/authorize'],
    ['//cdn.example.com/x', '//cdn.example.com/x'],
    ['relative/path', 'relative/path'],
  ];

  it.each(cases)('Location %s → %s, Content-Location alike', async (sent, expected) => {
    const gateway = `http://127.0.0.1:${world.gateway.address.port}`;
    const location = sent.replace('ABSOLUTE', upstream.url);
    upstream.handle((_req, res) => {
      res.writeHead(302, { location, 'content-location': location, 'content-length': 0 });
      res.end();
    });
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const reply = await world.send('/orders/v1/orders', { token, method: 'POST' });
    const want = expected.replace('ABSOLUTE', upstream.url).replace('GATEWAY', gateway);
    expect([reply.status, reply.headers.location, reply.headers['content-location']]).toEqual([302, want, want]);
    // A rewritten link shows nothing of where the upstream lives.
    if (expected.startsWith('GATEWAY')) expect(String(reply.headers.location)).not.toContain(`:${upstream.port}`);
  });

  it('rewrites each Location of an upstream that sends the field twice', async () => {
    const gateway = `http://127.0.0.1:${world.gateway.address.port}`;
    upstream.handle((_req, res) => {
      res.setHeader('location', [`${upstream.url}/api/v1/a`, `${upstream.url}/api/v1/b`]);
      res.writeHead(302, { 'content-length': 0 });
      res.end();
    });
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const reply = await world.send('/orders/v1/orders', { token, method: 'POST' });
    expect([reply.status, reply.headers.location]).toEqual([302, [`${gateway}/orders/v1/a`, `${gateway}/orders/v1/b`]]);
  });
});

describe('RateLimit headers', () => {
  it('tell a token with a rate its quota and what is left, down to the 429', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'], rate: { count: 3, periodMs: 60_000 } });
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await world.send('/orders/v1/orders/7', { token }));
    expect(replies.map((r) => [r.status, r.headers['ratelimit-policy'], r.headers.ratelimit])).toEqual([
      [200, '"default";q=3;w=60', '"default";r=2;t=20'],
      [200, '"default";q=3;w=60', '"default";r=1;t=40'],
      [200, '"default";q=3;w=60', '"default";r=0;t=60'],
      [429, '"default";q=3;w=60', '"default";r=0;t=20'],
    ]);
    expect(replies[3]!.headers['retry-after']).toBe('20');
  });

  it('are absent for a token without a rate', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const reply = await world.send('/orders/v1/orders/7', { token });
    expect([reply.headers['ratelimit-policy'], reply.headers.ratelimit]).toEqual([undefined, undefined]);
  });
});
