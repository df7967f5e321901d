// End to end through real Caddy (Debian's package) running examples/Caddyfile
// on loopback: forward_auth asks the endpoint, copy_headers puts the credential
// and identity it answers onto the upstream request, and a refusal (status and
// body) goes to the client as Latchkey answered it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../store/records.js';
import { binding, envCredential, GatewayWorld } from '../gateway/testing/world.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { caddyAvailable, startCaddy, type CaddyProxy } from './testing/caddy-auth.js';
import { sendRaw, startEndpoint } from './testing/forward-auth-world.js';

const available = caddyAvailable();
if (!available) console.warn('forward-auth Caddy tests skipped: no caddy binary on PATH (apt-get install caddy)');

let world: GatewayWorld;
let upstream: TestUpstream;
let caddy: CaddyProxy;

describe.skipIf(!available)('forward-auth through Caddy forward_auth', () => {
  beforeEach(async () => {
    process.env.PROD_ORDERS_KEY = 'upstream-orders-key';
    world = await GatewayWorld.sqlite();
    upstream = await startUpstream();
    world.onCleanup(() => upstream.close());
    await world.addService('orders', [binding('prod', upstream.url, envCredential('PROD_ORDERS_KEY'))]);
    await world.start();
    const endpoint = await startEndpoint(world);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-caddy-auth-'));
    world.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    caddy = await startCaddy(dir, { auth: endpoint.address.port, upstream: upstream.port });
    world.onCleanup(() => caddy.stop());
  }, 30_000);
  afterEach(() => world.close());

  const send = (path: string, token?: string, options: { method?: string; headers?: Record<string, string> } = {}) =>
    sendRaw(caddy.port, path, { method: options.method ?? 'GET', headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...options.headers } });

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

  it('a refusal reaches the client with the gateway\'s status and body, and the upstream sees nothing', async () => {
    const reader = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const staging = await world.issue({ env: 'staging', permissions: ['orders:read'] });
    const revoked = await world.issue({ permissions: ['orders:read'] });
    await world.store.setTokenStatus(revoked.record.id, 'revoked', SYSTEM_ACTOR);
    for (const [code, token, method] of [
      ['token_missing', undefined, 'GET'],
      ['permission_denied', reader.token, 'DELETE'],
      ['env_mismatch', staging.token, 'GET'],
      ['token_revoked', revoked.token, 'GET'],
    ] as const) {
      const viaCaddy = await send('/v1/orders/7', token, { method });
      const viaGateway = await world.send('/orders/v1/orders/7', { method, ...(token !== undefined && { token }) });
      expect([code, viaCaddy.status, viaCaddy.json?.error]).toEqual([code, viaGateway.status, code]);
      expect(viaCaddy.text).toBe(viaGateway.text);
      expect(viaCaddy.text).not.toContain('upstream-orders-key');
    }
    expect(upstream.seen).toEqual([]);
  });

  it('an encoded slash or dot segment is refused, and the upstream sees nothing', async () => {
    const { token } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    for (const path of ['/v1/orders/%2F..%2Fadmin', '/v1/orders/7%2Fadmin', '/v1/orders/%2e%2e/admin', '/v1/orders/7/../../admin']) {
      const reply = await send(path, token);
      expect([path, reply.status, reply.json?.error]).toEqual([path, 403, 'request_ambiguous']);
    }
    expect(upstream.seen).toEqual([]);
  });
});
