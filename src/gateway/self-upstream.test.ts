import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import type { Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadTokenHasher } from '../config/index.js';
import { mintToken } from '../lifecycle/index.js';
import { createLogger } from '../server/logger.js';
import { startServer, type RunningServer } from '../server/serve.js';
import { SYSTEM_ACTOR, type Service } from '../store/records.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

// Issue 8, finding 3, at connect time, in `latchkey serve` (admin API and
// gateway in one process): services written straight into the store whose
// upstream is the admin listener (or the gateway itself) are refused when the
// gateway connects — 502 upstream_unreachable, a log line naming the listener,
// and not one connection accepted by the admin listener.

let server: RunningServer;
let upstream: TestUpstream;
let dataDir: string;
let adminPort: number;
let gatewayPort: number;
let adminToken: string;
let dataToken: string;
const logs: string[] = [];
let adminConnections = 0;
const onSocket = (message: unknown): void => {
  if ((message as { socket: Socket }).socket.localPort === adminPort) adminConnections++;
};

const loops: Array<[string, () => string]> = [
  ['loop-ip', () => `http://127.0.0.1:${adminPort}`],
  ['loop-localhost', () => `http://localhost:${adminPort}`],
  ['loop-upper', () => `http://LOCALHOST:${adminPort}/v1`],
  ['loop-mapped', () => `http://[::ffff:127.0.0.1]:${adminPort}`],
  ['loop-zero', () => `http://0.0.0.0:${adminPort}`],
  ['loop-gateway', () => `http://127.0.0.1:${gatewayPort}`],
];
// A name that is not `localhost`, resolved by the system: the connect-time lookup is what must catch it.
const ownName = await lookup(hostname()).catch(() => null);
if (ownName?.address === '127.0.0.1') loops.push(['loop-hostname', () => `http://${hostname()}:${adminPort}`]);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-self-upstream-'));
  const configFile = join(dataDir, 'latchkey.json');
  writeFileSync(configFile, '{}');
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { logs.push(chunk.toString()); done(); } });
  server = await startServer(loadConfig({ configFile, dataDir, admin: '127.0.0.1:0', gateway: '127.0.0.1:0', auth: '127.0.0.1:0', postgres: '127.0.0.1:0' }, {}), { logger: createLogger('info', sink) });
  adminPort = Number(new URL(server.adminUrl).port);
  gatewayPort = Number(new URL(server.gatewayUrl).port);
  upstream = await startUpstream();

  const now = Date.now();
  const service = (name: string, target: string): Service => ({
    name, kind: 'http', bindings: [{ env: 'dev', upstream: target, credential: { from: 'none' } }],
    // The attacker's own token goes in this header, so Authorization would reach the admin API untouched.
    tokenHeader: 'X-Latchkey-Token', maxBodyBytes: 1024, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now,
  });
  for (const [name, target] of loops) await server.store.createService(service(name, target()), SYSTEM_ACTOR);
  await server.store.createService(service('control', upstream.url), SYSTEM_ACTOR);

  const hasher = loadTokenHasher(dataDir, undefined, false);
  const mint = async (env: string, permissions: string[]) => (await mintToken(server.store, hasher, {
    name: `self-upstream-${env}`, env, owner: 'test', roles: [], permissions, expiresAt: now + 3_600_000, notBefore: null,
    cidrs: [], rate: null, maxUses: null, honey: false, metadata: {}, parentId: null,
  }, SYSTEM_ACTOR, now, null)).token;
  adminToken = await mint('prod', ['latchkey:*']);
  dataToken = await mint('dev', [...loops.map(([name]) => `${name}:*`), 'control:*']);

  // The gateway reloads its table on the store's change; `control` was written last.
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await fetch(`${server.gatewayUrl}/control/x`, { headers: { 'x-latchkey-token': dataToken } })).status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  subscribe('net.server.socket', onSocket);
}, 60_000);

afterAll(async () => {
  unsubscribe('net.server.socket', onSocket);
  await server?.close();
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('an upstream that is one of Latchkey\'s own listeners, already in the store', () => {
  it('the control service works: the token and the gateway are sound', async () => {
    const before = upstream.seen.length;
    const reply = await fetch(`${server.gatewayUrl}/control/v1/anything`, { headers: { 'x-latchkey-token': dataToken } });
    expect(reply.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
  });

  it.each(loops.map(([name]) => name))('%s: 502 upstream_unreachable at connect, the admin listener never reached', async (name) => {
    const before = adminConnections;
    for (const path of ['/v1/tokens', '/metrics']) {
      const reply = await fetch(`${server.gatewayUrl}/${name}${path}`, { headers: { 'x-latchkey-token': dataToken, authorization: `Bearer ${adminToken}` } });
      const body = (await reply.json()) as { error: string };
      expect([name, path, reply.status, body.error]).toEqual([name, path, 502, 'upstream_unreachable']);
    }
    expect(adminConnections).toBe(before);
    const listener = name === 'loop-gateway' ? 'gateway' : 'admin';
    expect(logs.join('')).toMatch(new RegExp(`"listener":"${listener}".*upstream refused: it is one of Latchkey's own listeners`));
  });

  it('the admin API of `latchkey serve` refuses to write the same upstreams', async () => {
    const before = await server.store.listServices();
    for (const [name, target] of loops) {
      const reply = await fetch(`${server.adminUrl}/v1/services/${name}/bindings/dev`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ upstream: target() }),
      });
      const body = (await reply.json()) as { error: string; field: string };
      expect([name, reply.status, body.error, body.field]).toEqual([name, 400, 'invalid_request', 'body.upstream']);
    }
    expect(await server.store.listServices()).toEqual(before);
  });
});
