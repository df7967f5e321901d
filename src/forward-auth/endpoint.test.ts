// The forward-auth endpoint asked directly, the way Caddy, Traefik, nginx and
// Envoy ask it: the decision is the gateway's (same core, same reason codes),
// only configured proxies may ask, limits count once per check and the
// in-flight slot is given back when the answer is sent.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { binding, envCredential, GatewayWorld } from '../gateway/testing/world.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { sendRaw, startEndpoint } from './testing/forward-auth-world.js';

let world: GatewayWorld;
let upstream: TestUpstream;

beforeEach(async () => {
  process.env.PROD_ORDERS_KEY = 'upstream-orders-key';
  process.env.PROD_BILLING_KEY = 'upstream-billing-key';
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', upstream.url, envCredential('PROD_ORDERS_KEY'))]);
  await world.addService('billing', [binding('prod', upstream.url, envCredential('PROD_BILLING_KEY', 'X-Api-Key', ''))]);
  await world.start({ limits: { maxInFlightPerToken: 2 } });
});
afterEach(() => world.close());

const caddy = (token: string, method: string, uri: string) => ({ authorization: `Bearer ${token}`, 'x-forwarded-method': method, 'x-forwarded-uri': uri, 'x-forwarded-host': 'api.example' });

describe('forward-auth endpoint', () => {
  it('Caddy/Traefik form: allows with the identity headers and the opted-in credential, and audits the original request', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:read:/v1/orders/*', 'billing:read'] });
    const { port } = (await startEndpoint(world)).address;
    const allowed = await sendRaw(port, '/orders', { headers: caddy(token, 'GET', '/v1/orders/7?x=1') });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-latchkey-token-id']).toBe(record.id);
    expect(allowed.headers['x-latchkey-env']).toBe('prod');
    expect(allowed.headers.authorization).toBe('Bearer upstream-orders-key');
    // billing is not in credentialServices: identity only, its key stays in Latchkey.
    const billing = await sendRaw(port, '/billing', { headers: caddy(token, 'GET', '/v1/invoices') });
    expect(billing.status).toBe(200);
    expect(billing.headers['x-api-key']).toBeUndefined();
    expect(billing.text).not.toContain('upstream-billing-key');
    expect(upstream.seen).toEqual([]);
    const events = await world.decisions();
    expect(events.filter((e) => e.decision === 'allow').map((e) => [e.service, e.action, e.resource])).toEqual([['orders', 'GET', '/v1/orders/7'], ['billing', 'GET', '/v1/invoices']]);
  });

  it('Envoy form: the method is the check request\'s, the service and path follow /envoy', async () => {
    const { token } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const { port } = (await startEndpoint(world)).address;
    const headers = { authorization: `Bearer ${token}` };
    expect((await sendRaw(port, '/envoy/orders/v1/orders/7', { headers })).status).toBe(200);
    const denied = await sendRaw(port, '/envoy/orders/v1/orders/7', { method: 'DELETE', headers });
    expect([denied.status, denied.json?.error, denied.headers['x-latchkey-reason']]).toEqual([403, 'permission_denied', 'permission_denied']);
    expect((await sendRaw(port, '/envoy/nosuch/v1', { headers })).json?.error).toBe('service_unknown');
  });

  it('refuses as the gateway does: same status and body for the same request', async () => {
    const { token } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const { port } = (await startEndpoint(world)).address;
    for (const [method, path, headers] of [
      ['GET', '/v1/orders/%2F..%2Fadmin', { authorization: `Bearer ${token}` }],
      ['GET', '/v1/orders/../admin', { authorization: `Bearer ${token}` }],
      ['DELETE', '/v1/orders/7', { authorization: `Bearer ${token}` }],
      ['GET', '/v1/orders/7', {}],
      ['GET', '/v1/orders/7', { 'x-http-method-override': 'DELETE', authorization: `Bearer ${token}` }],
    ] as const) {
      const viaGateway = await sendRaw(world.gateway.address.port, `/orders${path}`, { method, headers });
      const viaAuth = await sendRaw(port, '/orders', { headers: { ...headers, 'x-forwarded-method': method, 'x-forwarded-uri': path } });
      expect(viaGateway.status).toBeGreaterThanOrEqual(400);
      expect([viaAuth.status, viaAuth.text]).toEqual([viaGateway.status, viaGateway.text]);
    }
  });

  it('believes one source of the original request: two, or none, are refused', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const { port } = (await startEndpoint(world)).address;
    const both = await sendRaw(port, '/orders', { headers: { ...caddy(token, 'GET', '/v1/orders/7'), 'x-original-uri': '/v1/other' } });
    expect([both.status, both.json?.error]).toEqual([403, 'request_ambiguous']);
    const envoyPlus = await sendRaw(port, '/envoy/orders/v1/orders/7', { headers: { authorization: `Bearer ${token}`, 'x-original-uri': '/v1/other', 'x-original-method': 'GET' } });
    expect(envoyPlus.json?.error).toBe('request_ambiguous');
    const none = await sendRaw(port, '/orders', { headers: { authorization: `Bearer ${token}` } });
    expect([none.status, none.json?.error]).toEqual([400, 'invalid_request']);
  });

  it('answers only configured proxy addresses, and with a secret only callers that send it', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const elsewhere = (await startEndpoint(world, { trustedProxies: ['10.0.0.0/8'] })).address.port;
    const untrusted = await sendRaw(elsewhere, '/orders', { headers: caddy(token, 'GET', '/v1/orders/7') });
    expect([untrusted.status, untrusted.json?.error]).toEqual([403, 'proxy_not_trusted']);
    expect(untrusted.headers['x-latchkey-token-id']).toBeUndefined();
    const guarded = (await startEndpoint(world, { secret: 'a-shared-secret-of-some-length' })).address.port;
    expect((await sendRaw(guarded, '/orders', { headers: caddy(token, 'GET', '/v1/orders/7') })).json?.error).toBe('proxy_not_trusted');
    expect((await sendRaw(guarded, '/orders', { headers: { ...caddy(token, 'GET', '/v1/orders/7'), 'x-latchkey-auth-secret': 'wrong' } })).json?.error).toBe('proxy_not_trusted');
    expect((await sendRaw(guarded, '/orders', { headers: { ...caddy(token, 'GET', '/v1/orders/7'), 'x-latchkey-auth-secret': 'a-shared-secret-of-some-length' } })).status).toBe(200);
    const events = await world.decisions();
    expect(events.filter((e) => e.reason === 'proxy_not_trusted').length).toBeGreaterThan(0);
  });

  it('counts a usage cap once per check and gives the in-flight slot back with each answer', async () => {
    const capped = await world.issue({ permissions: ['orders:*'], maxUses: 3 });
    const { port } = (await startEndpoint(world)).address;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await sendRaw(port, '/orders', { headers: caddy(capped.token, 'GET', '/v1/orders/7') })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // maxInFlightPerToken is 2: ten checks in a row pass only if every answer gave its slot back.
    const { token } = await world.issue({ permissions: ['orders:*'] });
    for (let i = 0; i < 10; i++) expect((await sendRaw(port, '/orders', { headers: caddy(token, 'GET', `/v1/orders/${i}`) })).status).toBe(200);
  });
});
