import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binding, GatewayWorld } from '../gateway/testing/world.js';
import { openPostgresStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.js';
import { loadSqlParser, postgresConnector, startPostgresGateway, type PostgresGateway } from './index.js';
import { build, RawClient, summary } from './testing/frames.js';

// Two gateway nodes on one PostgreSQL store (LISTEN/NOTIFY feed), each with
// its PostgreSQL listener: a token revoked through one store ends its open
// session on the other node at its next message. And a CancelRequest, sent
// with the key the gateway handed out, cancels the right upstream backend.

let world: GatewayWorld;
let upstream: TestDatabase;
const gateways: PostgresGateway[] = [];

beforeAll(async () => {
  await loadSqlParser();
  world = await GatewayWorld.postgres();
  upstream = await createTestDatabase();
  await world.addService('appdb', [binding('prod', `postgres://127.0.0.1:5432/${upstream.name}?user=postgres`)], { kind: 'postgres' });
  for (const name of ['a', 'b']) {
    const store = await openPostgresStore({ url: world.pgUrl! });
    const node = await world.startNode(store, { nodeName: name, pgUrl: world.pgUrl!, clock: Date.now, feedHeartbeatMs: 200, connectors: [postgresConnector()] });
    gateways.push(await startPostgresGateway({ plane: node.plane, listen: { host: '127.0.0.1', port: 0 }, logger: world.logger }));
  }
}, 90_000);

afterAll(async () => {
  for (const gateway of gateways) await gateway.close();
  await world?.close();
  await upstream?.drop();
}, 90_000);

async function untilRunning(text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: upstream.url });
  await admin.connect();
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0", [text]);
      if (rows[0].n > 0) return;
      if (Date.now() > deadline) throw new Error('the statement never started');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL gateway on two nodes', () => {
  it('a revocation ends the token\'s open sessions on every node at their next message', async () => {
    const { token, record } = await world.issue({ permissions: ['appdb:select:public.*'], expiresAt: Date.now() + 3_600_000 });
    const sessions = await Promise.all(gateways.map((gateway) => RawClient.login(gateway.address.port, token, 'appdb')));
    for (const client of sessions) expect(summary(await client.roundTrip(1, build.query('SELECT 1')))).toEqual(['T', 'D', 'complete:SELECT 1', 'ready:I']);
    await world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
    for (const client of sessions) {
      // The feed reaches each node within moments; until it does, the statement still runs.
      const deadline = Date.now() + 20_000;
      while (!client.closed && Date.now() < deadline) {
        const start = client.received.length;
        client.send(build.query('SELECT 1'));
        await client.until((r) => client.closed || r.slice(start).some((x) => x.message.name === 'readyForQuery'));
      }
      expect(client.closed).toBe(true);
      const last = client.received.at(-1)!.message;
      expect(last.name === 'error' && last.fields.get('M')).toMatch(/^latchkey: token_revoked:/);
      client.close();
    }
  }, 60_000);

  it('a CancelRequest with the key the gateway handed out cancels the running statement upstream', async () => {
    const { token } = await world.issue({ permissions: ['appdb:select:public.*'], expiresAt: Date.now() + 3_600_000 });
    const port = gateways[0]!.address.port;
    const client = await RawClient.login(port, token, 'appdb');
    try {
      const key = client.received.find((r) => r.message.name === 'backendKeyData')!.message;
      if (key.name !== 'backendKeyData') throw new Error('no key data');
      const start = client.received.length;
      client.send(build.query('SELECT count(*) FROM generate_series(1, 2000000000)'));
      // A cancel that reaches the backend before the statement starts cancels nothing: wait until it runs.
      await untilRunning('generate_series(1, 2000000000)');
      const right = await RawClient.open(port);
      right.send(build.cancel(key.processId, key.secretKey));
      await right.until(() => right.closed);
      await client.until((r) => r.slice(start).some((x) => x.message.name === 'readyForQuery'), 30_000);
      expect(summary(client.received.slice(start)).filter((name) => name !== 'T')).toEqual(['error:57014', 'ready:I']);
    } finally {
      client.close();
    }
  }, 60_000);
});
