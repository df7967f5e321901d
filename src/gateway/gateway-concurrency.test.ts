// Finding 10: one token must not be able to hold every connection of an
// upstream's pool. Requests in flight are bounded per token and per service
// binding (429 concurrency_limited, Retry-After: 1), and a slot is given back
// exactly once however the exchange ends.
import { connect } from 'node:net';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { binding, GatewayWorld, type GatewayReply } from './testing/world.js';

let world: GatewayWorld;
let upstream: TestUpstream;
/** Responses the slow upstream holds until the test lets them go. */
let held: ServerResponse[];

beforeEach(async () => {
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  held = [];
  upstream.handle((req, res) => {
    if (req.url?.startsWith('/slow') === true) {
      held.push(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('fast');
  });
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url)]);
});
afterEach(async () => {
  for (const res of held) res.destroy();
  await world.close();
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function releaseHeld(): void {
  for (const res of held.splice(0)) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('slow');
  }
}

async function inFlight(): Promise<number> {
  const metric = await world.registry.getSingleMetric('latchkey_gateway_in_flight')?.get();
  return metric?.values[0]?.value ?? -1;
}

/** A reply, or 'timeout' when none came within `ms` (generous: it only has to beat a starved queue). */
function within(reply: Promise<GatewayReply>, ms: number): Promise<GatewayReply | 'timeout'> {
  return Promise.race([reply, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);
}

describe('requests in flight', () => {
  it('a token with many slow requests cannot starve another token: its excess is refused and audited', async () => {
    await world.start({ limits: { upstreamConnections: 8, maxInFlightPerToken: 4, maxInFlightPerService: 100 } });
    const a = await world.issue({ name: 'greedy', permissions: ['orders:read'] });
    const b = await world.issue({ name: 'patient', permissions: ['orders:read'] });
    const slow = Array.from({ length: 12 }, (_, i) => world.send(`/orders/slow/${i}`, { token: a.token }));
    await waitFor(() => held.length === 4);
    const fast = await within(world.send('/orders/fast', { token: b.token }), 5000);
    expect(fast === 'timeout' ? 'timeout' : fast.status).toBe(200);
    releaseHeld();
    const replies = await Promise.all(slow);
    const refused = replies.filter((r) => r.status === 429);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(4);
    expect(refused).toHaveLength(8);
    for (const r of refused) {
      expect(r.json?.error).toBe('concurrency_limited');
      expect(r.headers['retry-after']).toBe('1');
    }
    const audited = (await world.decisions()).filter((e) => e.reason === 'concurrency_limited');
    expect(audited).toHaveLength(8);
    expect(audited.every((e) => e.tokenId === a.record.id && e.decision === 'deny')).toBe(true);
    // Every slot came back: the token can use its full share again.
    await waitFor(async () => (await inFlight()) === 0);
    expect((await world.send('/orders/fast', { token: a.token })).status).toBe(200);
  });

  it('bounds a service binding across tokens', async () => {
    await world.start({ limits: { maxInFlightPerToken: 10, maxInFlightPerService: 3 } });
    const tokens = await Promise.all([0, 1, 2, 3].map(() => world.issue({ permissions: ['orders:read'] })));
    const slow = tokens.slice(0, 3).map((t, i) => world.send(`/orders/slow/${i}`, { token: t.token }));
    await waitFor(() => held.length === 3);
    const fourth = await world.send('/orders/fast', { token: tokens[3]!.token });
    expect(fourth.status).toBe(429);
    expect(fourth.json?.message).toContain('this service has too many requests in flight');
    releaseHeld();
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await world.send('/orders/fast', { token: tokens[3]!.token })).status).toBe(200);
  });

  it('gives a slot back once whether the client aborts, the upstream fails or times out', async () => {
    await world.start({ limits: { maxInFlightPerToken: 2 }, timeouts: { upstreamHeadersMs: 400 } });
    const { token } = await world.issue({ permissions: ['orders:read'] });
    const port = world.gateway.address.port;
    // Client aborts.
    const aborts = [0, 1].map(() => new AbortController());
    const pending = aborts.map((c, i) =>
      request(`http://127.0.0.1:${port}/orders/slow/abort${i}`, { headers: { authorization: `Bearer ${token}` }, signal: c.signal }).catch(() => 'aborted'),
    );
    await waitFor(() => held.length === 2);
    expect((await world.send('/orders/fast', { token })).status).toBe(429);
    for (const c of aborts) c.abort();
    await Promise.all(pending);
    await waitFor(async () => (await inFlight()) === 0);
    held.splice(0).forEach((res) => res.destroy());
    // Upstream timeouts (the held requests never answer).
    const timedOut = await Promise.all([0, 1].map((i) => world.send(`/orders/slow/t${i}`, { token })));
    expect(timedOut.map((r) => r.json?.error)).toEqual(['upstream_timeout', 'upstream_timeout']);
    expect(await inFlight()).toBe(0);
    held.splice(0).forEach((res) => res.destroy());
    // Upstream errors (the connection is cut).
    upstream.handle((_req, res) => res.socket?.destroy());
    const cut = await Promise.all([0, 1].map(() => world.send('/orders/x', { token })));
    expect(cut.map((r) => r.json?.error)).toEqual(['upstream_unreachable', 'upstream_unreachable']);
    expect(await inFlight()).toBe(0);
    upstream.handle((_req, res) => res.end('ok'));
    expect((await Promise.all([0, 1].map(() => world.send('/orders/x', { token })))).map((r) => r.status)).toEqual([200, 200]);
    // The counter never went below zero: still exactly two slots.
    const slow = [0, 1].map(() => world.send('/orders/x', { token }));
    await Promise.all(slow);
    expect(await inFlight()).toBe(0);
  });

  it('an open WebSocket holds its slot until it closes', async () => {
    await world.start({ limits: { maxInFlightPerToken: 1 } });
    const { token } = await world.issue({ permissions: ['orders:read:/ws'] });
    const handshake = `GET /orders/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    const open = (): Promise<{ socket: ReturnType<typeof connect>; head: string }> =>
      new Promise((resolve) => {
        const socket = connect(world.gateway.address.port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('\r\n\r\n')) resolve({ socket, head: text });
        });
        socket.on('error', () => {});
        socket.write(handshake);
      });
    const first = await open();
    expect(first.head).toMatch(/^HTTP\/1.1 101/);
    const second = await open();
    expect(second.head).toMatch(/^HTTP\/1.1 429/);
    expect(second.head).toContain('concurrency_limited');
    second.socket.destroy();
    first.socket.destroy();
    await waitFor(async () => (await inFlight()) === 0);
    const third = await open();
    expect(third.head).toMatch(/^HTTP\/1.1 101/);
    third.socket.destroy();
  });
});
