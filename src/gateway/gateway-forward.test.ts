// What reaches the upstream: the injected credential, never the client's token
// or forged X-Latchkey-* headers, exactly the authorized path, bodies streamed
// both ways, hop-by-hop headers dropped, WebSockets and Unix sockets.
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { binding, envCredential, GatewayWorld } from './testing/world.js';
import { rawExchange, waitFor } from './testing/raw-http.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

const SECRET = 'sk_live_upstream_0123456789';
let world: GatewayWorld;
let upstream: TestUpstream;

beforeEach(async () => {
  process.env.PROD_ORDERS_SECRET = SECRET;
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', `${upstream.url}/api/`, envCredential('PROD_ORDERS_SECRET'))], { maxBodyBytes: 1000 });
});
afterEach(() => world.close());

describe('forwarding', () => {
  it('injects the upstream credential and identity, strips the token and forged X-Latchkey-* headers', async () => {
    await world.start();
    const { token, record } = await world.issue({ name: 'deploy bot', permissions: ['orders:*'] });
    const reply = await world.send('/orders/v1/orders/7?expand=items&x=%2F', {
      token,
      headers: { 'x-latchkey-token-id': 'tok_forged', 'X-Latchkey-Env': 'dev', 'x-latchkey-whatever': '1', 'x-request-id': 'abc' },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-upstream']).toBe('yes');
    const seen = upstream.seen[0]!;
    expect(seen.url).toBe('/api/v1/orders/7?expand=items&x=%2F');
    expect(seen.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(seen.headers['x-latchkey-token-id']).toBe(record.id);
    expect(seen.headers['x-latchkey-token-name']).toBe('deploy bot');
    expect(seen.headers['x-latchkey-env']).toBe('prod');
    expect(seen.headers['x-latchkey-whatever']).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe('abc');
    expect(seen.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen.rawHeaders.filter((h) => h.toLowerCase() === 'authorization')).toHaveLength(1);
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(token);
    // The secret is in no log line, and the token's plaintext in no log line or audit event.
    const events = JSON.stringify(await world.decisions());
    for (const text of [...world.logs, events]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(token);
    }
  });

  it('forwards the canonical path it authorized, byte for byte', async () => {
    await world.start();
    const { token } = await world.issue({ permissions: ['orders:read:/v1/files/*'] });
    const reply = await world.send('/orders/v1/files/a%3ab%20c~d', { token });
    expect(reply.status).toBe(200);
    expect(upstream.seen[0]!.url).toBe('/api/v1/files/a%3Ab%20c~d');
    const events = await world.decisions();
    expect(events.at(-1)).toMatchObject({ resource: '/v1/files/a%3Ab%20c~d', decision: 'allow', upstreamStatus: 200, matched: 'orders:read:/v1/files/*' });
  });

  it('drops hop-by-hop headers both ways, including those named in Connection', async () => {
    await world.start();
    upstream.handle((_req, res) => {
      res.writeHead(200, { connection: 'x-internal', 'x-internal': 'secret-hop', 'keep-alive': 'timeout=1', 'x-kept': 'yes' });
      res.end('ok');
    });
    const { token } = await world.issue({ permissions: ['orders:*'] });
    // Written by hand: an HTTP client library would not send these headers as given.
    const reply = await rawExchange(
      world.gateway.address.port,
      `GET /orders/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nConnection: x-hop, close\r\nX-Hop: drop-me\r\n` +
        'Proxy-Authorization: Basic abc\r\nTE: trailers\r\nKeep-Alive: timeout=99\r\nX-End: kept\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1.1 200/);
    const seen = upstream.seen[0]!.headers;
    expect(seen['x-hop']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['x-end']).toBe('kept');
    expect(reply.toLowerCase()).not.toContain('x-internal');
    expect(reply.toLowerCase()).not.toContain('timeout=1');
    expect(reply.toLowerCase()).toContain('x-kept: yes');
  });

  it('drops the fields every Connection header of the upstream names, when it sends more than one', async () => {
    await world.start();
    upstream.handle((_req, res) => {
      res.writeHead(200, { connection: ['x-first', 'X-Second, keep-alive'], 'x-first': 'hop-1', 'x-second': 'hop-2', 'x-kept': 'yes' });
      res.end('ok');
    });
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const reply = await rawExchange(world.gateway.address.port, `GET /orders/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1.1 200/);
    expect(reply.toLowerCase()).not.toContain('hop-1');
    expect(reply.toLowerCase()).not.toContain('hop-2');
    expect(reply.toLowerCase()).toContain('x-kept: yes');
  });

  it('streams request and response bodies, and refuses bodies over the service limit', async () => {
    await world.start();
    upstream.handle((_req, res, body) => res.end(Buffer.concat([Buffer.from('got:'), body])));
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const ok = await world.send('/orders/upload', { token, method: 'POST', body: 'x'.repeat(900) });
    expect(ok.text).toBe(`got:${'x'.repeat(900)}`);
    const declared = await world.send('/orders/upload', { token, method: 'POST', body: 'x'.repeat(1001) });
    expect(declared.status).toBe(413);
    expect(declared.json?.error).toBe('body_too_large');
    // Chunked, so the size is only known while streaming.
    async function* chunks() {
      for (let i = 0; i < 30; i++) yield Buffer.alloc(100, 'y');
    }
    const streamed = await request(`${world.base}/orders/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: Readable.from(chunks()) });
    expect(streamed.statusCode).toBe(413);
    await streamed.body.text();
    expect(upstream.seen.filter((r) => r.body.length > 1000)).toHaveLength(0);
  });

  it('asks for the body (100-continue) only once the request is allowed', async () => {
    await world.start();
    const { token } = await world.issue({ permissions: ['orders:read'] });
    const answer = await rawExchange(world.gateway.address.port, `POST /orders/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 403/);
    expect(answer).not.toContain('100 Continue');
  });

  it('takes the token from the service header when one is configured', async () => {
    await world.addService('billing', [binding('prod', upstream.url, envCredential('PROD_ORDERS_SECRET', 'X-Api-Key', ''))], { tokenHeader: 'X-Latchkey-Token' });
    await world.start();
    const { token } = await world.issue({ permissions: ['billing:read'] });
    const reply = await world.send('/billing/invoices', { headers: { 'x-latchkey-token': token, 'x-api-key': 'client-supplied' } });
    expect(reply.status).toBe(200);
    expect(upstream.seen[0]!.headers['x-api-key']).toBe(SECRET);
    expect(upstream.seen[0]!.headers['x-latchkey-token']).toBeUndefined();
  });

  it('routes each token to its environment binding when serving every environment', async () => {
    const other = await startUpstream();
    world.onCleanup(() => other.close());
    await world.addService('multi', [binding('prod', `${upstream.url}/p`), binding('staging', `${other.url}/s`)]);
    await world.start({ env: null });
    const prod = await world.issue({ permissions: ['multi:*'] });
    const staging = await world.issue({ env: 'staging', permissions: ['multi:*'] });
    const dev = await world.issue({ env: 'dev', permissions: ['multi:*'] });
    expect((await world.send('/multi/a', { token: prod.token })).status).toBe(200);
    expect((await world.send('/multi/b', { token: staging.token })).status).toBe(200);
    expect((await world.send('/multi/c', { token: dev.token })).json?.error).toBe('env_mismatch');
    expect(upstream.seen.map((r) => r.url)).toEqual(['/p/a']);
    expect(other.seen.map((r) => r.url)).toEqual(['/s/b']);
  });

  it('reaches an upstream on a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lk-sock-'));
    const socketPath = join(dir, 'docker.sock');
    const unix = await startUpstream({ socketPath });
    world.onCleanup(async () => {
      await unix.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await world.addService('docker', [binding('prod', `unix:${socketPath}:/v1.43`)]);
    await world.start();
    const { token } = await world.issue({ permissions: ['docker:read:/containers/json'] });
    const reply = await world.send('/docker/containers/json?all=1', { token });
    expect(reply.status).toBe(200);
    expect(unix.seen[0]!.url).toBe('/v1.43/containers/json?all=1');
  });

  it('authorizes a WebSocket upgrade, then pipes it', async () => {
    await world.start();
    const { token } = await world.issue({ permissions: ['orders:read:/ws'] });
    const handshake = (auth: string) =>
      `GET /orders/ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${auth}\r\n`;
    const refused = await rawExchange(world.gateway.address.port, handshake(''));
    expect(refused).toMatch(/^HTTP\/1.1 401/);
    const socket = connect(world.gateway.address.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('\r\n\r\n') && !received.includes('echo:')) socket.write('ping');
    });
    socket.write(handshake(`Authorization: Bearer ${token}\r\n`));
    await waitFor(() => received.includes('echo:ping'));
    socket.destroy();
    expect(received).toMatch(/^HTTP\/1.1 101 Switching Protocols/);
    expect(received).toContain('sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(upstream.seen.at(-1)!.headers['x-latchkey-env']).toBe('prod');
    expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'], cidrs: ['203.0.113.0/24'] });
    await world.start({ trustedProxies: ['127.0.0.1/32'] });
    const spoofed = await world.send('/orders/x', { token, headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' } });
    expect(spoofed.json?.error).toBe('ip_not_allowed');
    const trusted = await world.send('/orders/x', { token, headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } });
    expect(trusted.status).toBe(200);
    expect(upstream.seen.at(-1)!.headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.9, 127.0.0.1');
    await world.gateway.close();
    await world.start({ trustedProxies: [] });
    expect((await world.send('/orders/x', { token, headers: { 'x-forwarded-for': '203.0.113.9' } })).json?.error).toBe('ip_not_allowed');
    const open = await world.issue({ permissions: ['orders:*'] });
    await world.send('/orders/x', { token: open.token, headers: { 'x-forwarded-for': '203.0.113.9' } });
    // From an untrusted client the upstream gets only the real peer, not the address the client wrote.
    expect(upstream.seen.at(-1)!.headers['x-forwarded-for']).toBe('127.0.0.1');
    // Nor any other header claiming who the client is or what it asked for.
    const forged = { forwarded: 'for=10.0.0.1;proto=https', 'x-real-ip': '10.0.0.1', 'x-forwarded-host': 'admin.internal', 'x-forwarded-proto': 'https', 'true-client-ip': '10.0.0.1' };
    expect((await world.send('/orders/x', { token: open.token, headers: forged })).status).toBe(200);
    const seen = upstream.seen.at(-1)!.headers;
    for (const name of ['forwarded', 'x-real-ip', 'true-client-ip']) expect(seen[name], name).toBeUndefined();
    // X-Forwarded-Host and -Proto are the gateway's: the Host the client used and the listener's scheme.
    expect([seen['x-forwarded-host'], seen['x-forwarded-proto'], seen['x-forwarded-prefix']]).toEqual([`127.0.0.1:${world.gateway.address.port}`, 'http', '/orders']);
  });

  it('serves a service on a listener of its own', async () => {
    await world.start({ serviceListeners: [{ service: 'orders', host: '127.0.0.1', port: 0 }] });
    const own = world.gateway.listeners.find((l) => l.service === 'orders')!;
    const { token } = await world.issue({ permissions: ['orders:read:/v1/**'] });
    const reply = await request(`http://127.0.0.1:${own.port}/v1/x`, { headers: { authorization: `Bearer ${token}` } });
    expect(reply.statusCode).toBe(200);
    await reply.body.text();
    expect(upstream.seen[0]!.url).toBe('/api/v1/x');
  });
});
