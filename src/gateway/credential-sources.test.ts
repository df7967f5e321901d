import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import type { CredentialSource } from '../store/records.js';
import { binding, envCredential, GatewayWorld } from './testing/world.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { CredentialPolicy } from '../core/services/index.js';

// Issue 8, finding 2, in the gateway: a binding already in the store (written
// before the allow-list existed, straight into a shared database, or before
// the configuration changed) that names a source its environment may not read
// is unusable — 502 upstream_credential_missing, the upstream never sees the secret,
// the log says why without it. And one environment's credential header is
// stripped only from that environment's requests.

const PROD_SECRET = 'sk_prod_only_7f3a9c0e1d2b';
const KEY_TEXT = 'token-hashing-key-0123456789abcdef0123';
const DEV_SECRET = 'sk_dev_orders_55aa';

let world: GatewayWorld;
let upstream: TestUpstream;
let root: string;
let dataDir: string;
let policy: CredentialPolicy;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'latchkey-gw-credentials-'));
  dataDir = join(root, 'data');
  mkdirSync(join(dataDir, 'keys'), { recursive: true });
  writeFileSync(join(dataDir, 'keys', 'token-hmac.key'), `${KEY_TEXT}\n`, { mode: 0o600 });
  mkdirSync(join(root, 'secrets', 'dev'), { recursive: true });
  writeFileSync(join(root, 'secrets', 'dev', 'orders.key'), `${DEV_SECRET}\n`, { mode: 0o600 });
  symlinkSync(join(dataDir, 'keys', 'token-hmac.key'), join(root, 'secrets', 'dev', 'key-link'));
  const configFile = join(root, 'latchkey.json');
  writeFileSync(configFile, JSON.stringify({ credentials: { dev: { directories: [join(root, 'secrets', 'dev')] } } }));
  policy = CredentialPolicy.forConfig(loadConfig({ configFile, dataDir }, {}));
  process.env.PROD_SECRET = PROD_SECRET;
  process.env.LATCHKEY_TEST_STORE_PASSWORD = PROD_SECRET;
  process.env.DEV_ORDERS_KEY = DEV_SECRET;
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
});

afterEach(async () => {
  await world.close();
  rmSync(root, { recursive: true, force: true });
  delete process.env.PROD_SECRET;
  delete process.env.LATCHKEY_TEST_STORE_PASSWORD;
  delete process.env.DEV_ORDERS_KEY;
});

function fileCredential(path: string): CredentialSource {
  return { from: 'file', path, header: 'Authorization', scheme: 'Bearer' };
}

describe('a stored binding naming a source its environment may not read', () => {
  it('is refused by the gateway: 502, the upstream never sees the secret, the log says why without it', async () => {
    const attacks: Array<[string, CredentialSource]> = [
      ['prod-variable', envCredential('PROD_SECRET')],
      ['latchkey-variable', envCredential('LATCHKEY_TEST_STORE_PASSWORD')],
      ['proc-root', fileCredential(`/proc/self/root${join(dataDir, 'keys', 'token-hmac.key')}`)],
      ['key-symlink', fileCredential(join(root, 'secrets', 'dev', 'key-link'))],
      ['proc-environ', fileCredential('/proc/self/environ')],
      ['dotdot', fileCredential(`${join(root, 'secrets', 'dev')}/../../data/keys/token-hmac.key`)],
    ];
    for (const [name, credential] of attacks) await world.addService(name, [binding('dev', `${upstream.url}/${name}`, credential)]);
    await world.addService('control', [binding('dev', `${upstream.url}/control`, envCredential('DEV_ORDERS_KEY'))]);
    await world.start({ env: null, credentials: policy });
    const { token } = await world.issue({ env: 'dev', permissions: [...attacks.map(([name]) => `${name}:*`), 'control:*'] });

    for (const [name] of attacks) {
      const reply = await world.send(`/${name}/v1/orders`, { token });
      expect([name, reply.status, reply.json?.error]).toEqual([name, 502, 'upstream_credential_missing']);
    }
    expect(upstream.seen).toHaveLength(0);
    // The same token and gateway do reach an upstream whose credential dev may read.
    const control = await world.send('/control/v1/orders', { token });
    expect(control.status).toBe(200);
    expect(upstream.seen.map((s) => [s.url, s.headers.authorization])).toEqual([['/control/v1/orders', `Bearer ${DEV_SECRET}`]]);

    const logs = world.logs.join('');
    for (const [name] of attacks) expect(logs).toMatch(new RegExp(`"service":"${name}".*upstream credential unavailable`));
    expect(logs).not.toContain(PROD_SECRET);
    expect(logs).not.toContain(KEY_TEXT);
  });

  it('a binding allowed when it was written is unusable once the configuration no longer allows it', async () => {
    await world.addService('orders', [binding('dev', `${upstream.url}/api`, fileCredential(join(root, 'secrets', 'dev', 'orders.key')))]);
    await world.start({ env: null, credentials: policy });
    const { token } = await world.issue({ env: 'dev', permissions: ['orders:*'] });
    expect((await world.send('/orders/x', { token })).status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${DEV_SECRET}`);

    // Restarted without the allow-list: dev has no credential directories any more.
    await world.gateway.close();
    await world.start({ env: null, credentials: CredentialPolicy.defaults() });
    const reply = await world.send('/orders/x', { token });
    expect([reply.status, reply.json?.error]).toEqual([502, 'upstream_credential_missing']);
    expect(upstream.seen).toHaveLength(1);
  });
});

describe('credential header stripping is per binding', () => {
  it("dev's credential header reaches prod's upstream as the client sent it; each binding's own is replaced", async () => {
    process.env.DEV_SHOP_KEY = 'dev-shop-secret';
    process.env.PROD_SHOP_KEY = 'prod-shop-secret';
    world.onCleanup(() => {
      delete process.env.DEV_SHOP_KEY;
      delete process.env.PROD_SHOP_KEY;
    });
    await world.addService('shop', [
      binding('dev', `${upstream.url}/dev`, envCredential('DEV_SHOP_KEY', 'X-Api-Key', '')),
      binding('prod', `${upstream.url}/prod`, envCredential('PROD_SHOP_KEY', 'X-Prod-Key', '')),
    ]);
    await world.start({ env: null });
    const prod = await world.issue({ env: 'prod', permissions: ['shop:*'] });
    const dev = await world.issue({ env: 'dev', permissions: ['shop:*'] });

    expect((await world.send('/shop/items', { token: prod.token, headers: { 'X-Api-Key': 'client-api-key', 'x-PROD-key': 'forged' } })).status).toBe(200);
    const toProd = upstream.seen.at(-1)!;
    expect(toProd.url).toBe('/prod/items');
    expect(toProd.headers['x-api-key']).toBe('client-api-key');
    expect(toProd.headers['x-prod-key']).toBe('prod-shop-secret');
    expect(toProd.rawHeaders.filter((h) => h.toLowerCase() === 'x-prod-key')).toHaveLength(1);

    expect((await world.send('/shop/items', { token: dev.token, headers: { 'x-API-key': 'forged', 'X-Prod-Key': 'client-prod-key' } })).status).toBe(200);
    const toDev = upstream.seen.at(-1)!;
    expect(toDev.url).toBe('/dev/items');
    expect(toDev.headers['x-api-key']).toBe('dev-shop-secret');
    expect(toDev.rawHeaders.filter((h) => h.toLowerCase() === 'x-api-key')).toHaveLength(1);
    expect(toDev.headers['x-prod-key']).toBe('client-prod-key');
  });
});
