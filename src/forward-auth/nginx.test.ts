// End to end through real nginx (Debian's package, started on loopback with the
// configuration of examples/nginx.conf): nginx asks the forward-auth endpoint
// with auth_request, copies the credential and identity it answers onto the
// upstream request, and passes Latchkey's refusals on through /refusal.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nginxAvailable, startNginxWith, type NginxProxy } from '../bench/nginx.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { generateToken } from '../token/index.js';
import { binding, envCredential, GatewayWorld } from '../gateway/testing/world.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { sendRaw, startEndpoint } from './testing/forward-auth-world.js';
import { nginxAuthConfig } from './testing/nginx-auth.js';

const available = nginxAvailable();
if (!available) console.warn('forward-auth nginx tests skipped: /usr/sbin/nginx is not installed (apt-get install nginx-light)');

let world: GatewayWorld;
let upstream: TestUpstream;
let nginx: NginxProxy;

describe.skipIf(!available)('forward-auth through nginx auth_request', () => {
  beforeEach(async () => {
    process.env.PROD_ORDERS_KEY = 'upstream-orders-key';
    world = await GatewayWorld.sqlite();
    upstream = await startUpstream();
    world.onCleanup(() => upstream.close());
    await world.addService('orders', [binding('prod', upstream.url, envCredential('PROD_ORDERS_KEY'))]);
    await world.start();
    const endpoint = await startEndpoint(world);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-nginx-auth-'));
    nginx = await startNginxWith(dir, (port) => nginxAuthConfig(dir, port, { upstream: upstream.port, auth: endpoint.address.port, service: 'orders' }));
    world.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    world.onCleanup(() => nginx.stop());
  });
  afterEach(() => world.close());

  const send = (path: string, token?: string, options: { method?: string; headers?: Record<string, string> } = {}) =>
    sendRaw(nginx.port, path, { method: options.method ?? 'GET', headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...options.headers } });

  it('an allowed request reaches the upstream with the injected credential, the identity and without the client\'s token', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const reply = await send('/v1/orders/7?expand=1', token, { headers: { 'x-latchkey-token-id': 'forged' } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ ok: true, path: '/v1/orders/7?expand=1' });
    expect(upstream.seen).toHaveLength(1);
    const seen = upstream.seen[0]!;
    expect(seen.url).toBe('/v1/orders/7?expand=1');
    expect(seen.headers.authorization).toBe('Bearer upstream-orders-key');
    expect(seen.headers['x-latchkey-token-id']).toBe(record.id);
    expect(seen.headers['x-latchkey-env']).toBe('prod');
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(token);
    const events = await world.decisions();
    expect(events.filter((e) => e.decision === 'allow')).toMatchObject([{ service: 'orders', action: 'GET', resource: '/v1/orders/7', tokenId: record.id, client: '127.0.0.1' }]);
  });

  it('reason codes reach the client through nginx with the gateway\'s status and body', async () => {
    const reader = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const once = await world.issue({ permissions: ['orders:read'], maxUses: 1 });
    const staging = await world.issue({ env: 'staging', permissions: ['orders:read'] });
    const check = async (code: string, reply: Awaited<ReturnType<typeof send>>, status: number) => {
      expect([code, reply.status, reply.json?.error]).toEqual([code, status, code]);
      expect(reply.text).not.toContain('upstream-orders-key');
    };
    await check('token_missing', await send('/v1/orders/7'), 401);
    await check('token_malformed', await send('/v1/orders/7', 'lk_prod_short'), 401);
    await check('token_unknown', await send('/v1/orders/7', generateToken('prod')), 401);
    await check('permission_denied', await send('/v1/orders/7', reader.token, { method: 'DELETE' }), 403);
    await check('env_mismatch', await send('/v1/orders/7', staging.token), 403);
    expect((await send('/v1/orders/7', once.token)).status).toBe(200);
    const exhausted = await send('/v1/orders/7', once.token);
    await check('usage_exhausted', exhausted, 429);
    await world.store.setTokenStatus(reader.record.id, 'disabled', SYSTEM_ACTOR);
    await check('token_disabled', await send('/v1/orders/7', reader.token), 401);
    // Only the one allowed request reached the upstream.
    expect(upstream.seen.map((r) => r.url)).toEqual(['/v1/orders/7']);
  });

  it('a revoked token is refused through nginx by the first request after the revocation', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:read'] });
    expect((await send('/v1/orders/7', token)).status).toBe(200);
    await world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
    const revokedAt = performance.now();
    // Bounded, generous: at most 2 s of tries; the first try is expected to be refused already.
    let tries = 0;
    let reply = await send('/v1/orders/7', token);
    while (reply.status === 200 && performance.now() - revokedAt < 2000) {
      tries++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      reply = await send('/v1/orders/7', token);
    }
    expect([reply.status, reply.json?.error, tries]).toEqual([401, 'token_revoked', 0]);
    expect(upstream.seen).toHaveLength(1);
  });

  it('an encoded slash, a dot segment or a client\'s own X-Forwarded-Uri is refused, and the upstream sees nothing', async () => {
    const { token } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    for (const path of ['/v1/orders/%2F..%2Fadmin', '/v1/orders/7%2Fadmin', '/v1/orders/%2e%2e/admin', '/v1/orders/7/../../admin']) {
      const reply = await send(path, token);
      expect([path, reply.status, reply.json?.error]).toEqual([path, 403, 'request_ambiguous']);
    }
    // nginx replaces X-Original-URI with the real one; a client adding the other family's header is ambiguous, not believed.
    const forged = await send('/v1/admin', token, { headers: { 'x-forwarded-uri': '/v1/orders/7', 'x-forwarded-method': 'GET' } });
    expect([forged.status, forged.json?.error]).toEqual([403, 'request_ambiguous']);
    expect(upstream.seen).toEqual([]);
  });
});
