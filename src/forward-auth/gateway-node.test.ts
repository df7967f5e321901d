// `latchkey gateway --auth`: a data-plane-only node serves the forward-auth
// endpoint on its own data plane (same token cache, same decisions), on a
// listener of its own beside the public gateway's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGatewayNode, type GatewayNode } from '../gateway/node.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { binding, envCredential, GatewayWorld } from '../gateway/testing/world.js';
import { openSqliteStore } from '../store/index.js';
import { loadConfig } from '../config/index.js';
import { forwardAuthOnNode } from '../server/forward-auth-node.js';
import { sendRaw } from './testing/forward-auth-world.js';

let dir: string;
let world: GatewayWorld;
let upstream: TestUpstream;
let node: GatewayNode | null;

beforeEach(async () => {
  process.env.PROD_ORDERS_KEY = 'upstream-orders-key';
  dir = mkdtempSync(join(tmpdir(), 'latchkey-auth-node-'));
  // The world writes tokens and services as the admin process would; the node reads the same file.
  world = new GatewayWorld(await openSqliteStore({ file: join(dir, 'latchkey.db') }));
  await world.environments('prod', 'staging');
  upstream = await startUpstream();
  await world.addService('orders', [binding('prod', upstream.url, envCredential('PROD_ORDERS_KEY'))]);
  node = null;
});
afterEach(async () => {
  await node?.close();
  await upstream.close();
  await world.store.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const startNode = (forwardAuth: boolean) => {
  // The config the CLI loads: forwardAuth.* from the file (here, only credentialServices); trustedProxies defaults to loopback.
  const nodeConfig = loadConfig({ dataDir: dir, configFile: configFile() });
  return runGatewayNode({
    env: 'prod',
    store: join(dir, 'latchkey.db'),
    hasher: world.hasher,
    listen: { host: '127.0.0.1', port: 0 },
    logger: world.logger,
    gateway: { clock: world.clock },
    planeListeners: forwardAuth ? [forwardAuthOnNode(nodeConfig, { host: '127.0.0.1', port: 0 })] : [],
  });
};

function configFile(): string {
  const file = join(dir, 'latchkey.json');
  writeFileSync(file, JSON.stringify({ forwardAuth: { credentialServices: ['orders'] } }));
  return file;
}

const check = (token: string, method: string, uri: string) => ({ authorization: `Bearer ${token}`, 'x-forwarded-method': method, 'x-forwarded-uri': uri });

describe('gateway node with --auth', () => {
  it('allows and refuses through the node\'s endpoint as its gateway does', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:read:/v1/orders/*'] });
    const staging = await world.issue({ env: 'staging', permissions: ['orders:*'] });
    node = await startNode(true);
    expect(node.planeListeners.map((l) => l.name)).toEqual(['forward-auth']);
    const port = node.planeListeners[0]!.address.port;
    expect(port).not.toBe(node.gateway.address.port);

    const allowed = await sendRaw(port, '/orders', { headers: check(token, 'GET', '/v1/orders/7') });
    expect([allowed.status, allowed.headers['x-latchkey-token-id'], allowed.headers.authorization]).toEqual([200, record.id, 'Bearer upstream-orders-key']);
    // Latchkey decided only; the proxy forwards.
    expect(upstream.seen).toEqual([]);

    for (const [token_, method, uri, code] of [
      [token, 'DELETE', '/v1/orders/7', 'permission_denied'],
      [staging.token, 'GET', '/v1/orders/7', 'env_mismatch'],
    ] as const) {
      const viaAuth = await sendRaw(port, '/orders', { headers: check(token_, method, uri) });
      const viaGateway = await sendRaw(node.gateway.address.port, `/orders${uri}`, { method, headers: { authorization: `Bearer ${token_}` } });
      expect([viaAuth.status, viaAuth.json?.error, viaAuth.headers['x-latchkey-reason']]).toEqual([viaGateway.status, code, code]);
      expect(viaAuth.text).toBe(viaGateway.text);
    }
  });

  it('has no endpoint unless asked', async () => {
    node = await startNode(false);
    expect(node.planeListeners).toEqual([]);
  });
});
