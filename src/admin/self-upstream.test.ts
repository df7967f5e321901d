import { lookup } from 'node:dns/promises';
import { hostname, networkInterfaces } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';

// Issue 8, finding 3, at write time: a service whose upstream is the admin
// listener itself (every spelling of its address an attacker would try) is
// refused with 400 naming the upstream field, and the store is unchanged.

const harnesses: AdminHarness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

async function harnessOn(host: string): Promise<{ h: AdminHarness; port: number }> {
  const h = await startAdminHarness('sqlite', Date.now, { host });
  harnesses.push(h);
  return { h, port: Number(new URL(h.url).port) };
}

async function snapshot(h: AdminHarness): Promise<string> {
  const [services, head] = await Promise.all([h.store.listServices(), h.store.auditHead()]);
  return JSON.stringify({ services, head });
}

/** 400 naming the upstream on create (full admin) and on a dev binding update (services.write:dev only); nothing stored. */
async function expectRefused(h: AdminHarness, upstream: string, kind: 'http' | 'postgres' = 'http'): Promise<void> {
  const attacker = attackers.get(h)!;
  const before = await snapshot(h);
  const create = await h.call('POST', '/v1/services', { body: { name: `loop-${kind}`, kind, bindings: [{ env: 'dev', upstream }] } });
  expect([upstream, create.status, create.body.error, create.body.field]).toEqual([upstream, 400, 'invalid_request', 'bindings[0].upstream']);
  if (kind === 'http') {
    const update = await h.call('PUT', '/v1/services/orders/bindings/dev', { token: attacker, body: { upstream } });
    expect([upstream, update.status, update.body.field]).toEqual([upstream, 400, 'body.upstream']);
    expect(update.body.message).toContain("Latchkey's own admin listener");
  }
  expect(await snapshot(h)).toBe(before);
}

const attackers = new Map<AdminHarness, string>();

/** A service with a dev binding, and a token that may change only dev bindings. */
async function withOrders(h: AdminHarness): Promise<void> {
  const created = await h.call('POST', '/v1/services', { body: { name: 'orders', kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9' }] } });
  expect(created.status).toBe(201);
  attackers.set(h, await h.mint(['latchkey:services.write:dev', 'latchkey:services.read'], 'dev'));
}

function interfaceAddress(family: 'IPv4' | 'IPv6'): string | undefined {
  return Object.values(networkInterfaces()).flat().find((e) => e !== undefined && e.family === family && !e.internal && !e.address.startsWith('fe80'))?.address;
}

describe('an upstream that is the admin listener on 127.0.0.1', () => {
  it('is refused by every spelling of its address and by name', async () => {
    const { h, port } = await harnessOn('127.0.0.1');
    await withOrders(h);
    const spellings = [
      `http://127.0.0.1:${port}`,
      `http://127.0.0.1:${port}/v1`,
      `http://localhost:${port}`,
      `http://LOCALHOST:${port}/base`,
      `https://localhost:${port}`,
      `http://api.localhost:${port}`,
      `http://[::ffff:127.0.0.1]:${port}`,
      `http://2130706433:${port}`,
      `http://0x7f.0.0.1:${port}`,
      `http://0.0.0.0:${port}`,
      `http://0:${port}`,
      `http://[::]:${port}`,
    ];
    const own = await lookup(hostname()).catch(() => null);
    if (own?.address === '127.0.0.1') spellings.push(`http://${hostname()}:${port}`);
    for (const upstream of spellings) await expectRefused(h, upstream);
    await expectRefused(h, `postgres://127.0.0.1:${port}`, 'postgres');
  });

  it('refuses only that listener: other ports and other loopback addresses are upstreams like any', async () => {
    const { h, port } = await harnessOn('127.0.0.1');
    for (const [name, upstream] of [['other-port', `http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}`], ['other-loopback', `http://127.0.0.2:${port}`]]) {
      const created = await h.call('POST', '/v1/services', { body: { name, kind: 'http', bindings: [{ env: 'dev', upstream }] } });
      expect([upstream, created.status]).toEqual([upstream, 201]);
    }
  });
});

describe('an upstream that is the admin listener on a wildcard address', () => {
  it('on 0.0.0.0: any loopback address and this host\'s own addresses are refused', async () => {
    const { h, port } = await harnessOn('0.0.0.0');
    await withOrders(h);
    const spellings = [`http://127.0.0.2:${port}`, `http://127.255.0.1:${port}`, `http://[::ffff:127.0.0.2]:${port}`, `http://localhost:${port}`];
    const external = interfaceAddress('IPv4');
    if (external !== undefined) spellings.push(`http://${external}:${port}`);
    for (const upstream of spellings) await expectRefused(h, upstream);
  });

  it('on ::, [::1] and IPv4 loopback (dual stack) are refused', async () => {
    const { h, port } = await harnessOn('::');
    await withOrders(h);
    const spellings = [`http://[::1]:${port}`, `http://[0:0:0:0:0:0:0:1]:${port}`, `http://127.0.0.1:${port}`, `http://127.0.0.2:${port}`];
    const external = interfaceAddress('IPv6');
    if (external !== undefined) spellings.push(`http://[${external}]:${port}`);
    for (const upstream of spellings) await expectRefused(h, upstream);
  });
});
