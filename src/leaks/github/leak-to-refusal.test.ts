// From a GitHub leak report's arrival to the token being refused on every
// gateway node: two in-process gateway nodes, each on its own PostgreSQL store
// instance following changes by LISTEN/NOTIFY, and the admin API on a third.
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminServer, type AdminServer } from '../../admin/index.js';
import type { HttpGateway } from '../../gateway/gateway.js';
import { binding, GatewayWorld } from '../../gateway/testing/world.js';
import { startUpstream, type TestUpstream } from '../../gateway/testing/upstream.js';
import { openPostgresStore } from '../../store/index.js';
import { loadConfig } from '../../config/index.js';
import { CredentialPolicy, OwnListeners } from '../../core/services/index.js';
import { GithubKeys } from './keys.js';

const REPORTS = 20;

describe('leak to refusal', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let world: GatewayWorld;
  let upstream: TestUpstream;
  let admin: AdminServer;
  let adminUrl: string;
  const nodes: HttpGateway[] = [];

  beforeAll(async () => {
    world = await GatewayWorld.postgres();
    upstream = await startUpstream();
    await world.addService('orders', [binding('prod', upstream.url)]);
    for (const name of ['gw-a', 'gw-b']) {
      const store = await openPostgresStore({ url: world.pgUrl! });
      nodes.push(await world.startNode(store, { nodeName: name, pgUrl: world.pgUrl!, feed: 'postgres', feedHeartbeatMs: 200 }));
    }
    const githubKeys = GithubKeys.parse(JSON.stringify({ public_keys: [{ key_identifier: 'k1', key: publicKey.export({ type: 'spki', format: 'pem' }).toString() }] }), 'test');
    admin = await buildAdminServer({ context: { store: world.store, hasher: world.hasher, logger: world.logger, now: world.clock, githubKeys, credentials: CredentialPolicy.forConfig(loadConfig({}, {})), ownListeners: new OwnListeners() } });
    await admin.listen({ host: '127.0.0.1', port: 0 });
    const address = admin.server.address();
    adminUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    await upstream?.close();
    await world?.close();
  });

  it(`is measured over ${REPORTS} reports: every node refuses the token soon after the report arrives`, async () => {
    const delays: number[] = [];
    for (let i = 0; i < REPORTS; i++) {
      const { token } = await world.issue({ permissions: ['orders:read'] });
      for (const gateway of nodes) expect((await world.send('/orders/v1/x', { token, gateway })).status).toBe(200); // cached on both
      const body = JSON.stringify([{ token, type: 'latchkey_token', url: `https://github.com/acme/app/commit/${i}`, source: 'commit' }]);
      const started = performance.now();
      const response = await fetch(`${adminUrl}/v1/leaks/github`, {
        method: 'POST', body,
        headers: { 'content-type': 'application/json', 'github-public-key-identifier': 'k1', 'github-public-key-signature': sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'der' }).toString('base64') },
      });
      expect(response.status).toBe(200);
      for (const gateway of nodes) {
        // Bounded: 10 s at most per node, on a loaded machine.
        let refusal: string | undefined;
        for (let attempt = 0; attempt < 1000 && refusal === undefined; attempt++) {
          const reply = await world.send('/orders/v1/x', { token, gateway });
          if (reply.status === 401) refusal = reply.json?.error;
          else await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(refusal).toBe('token_revoked');
      }
      delays.push(performance.now() - started);
    }
    delays.sort((a, b) => a - b);
    const p50 = delays[Math.floor(REPORTS / 2)]!;
    const p99 = delays[Math.ceil(REPORTS * 0.99) - 1]!;
    process.stdout.write(`leak to refusal on 2 nodes over ${REPORTS} reports: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms (goal p99 <= 1000 ms)\n`);
    // Generous on a shared 2-core machine; the printed figures are the measurement.
    expect(p99).toBeLessThan(5000);
  }, 120_000);
});
