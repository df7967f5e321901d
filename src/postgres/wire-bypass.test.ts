import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { T0 } from '../gateway/testing/world.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { build, RawClient, summary } from './testing/frames.js';
import { PgWorld } from './testing/pg-world.js';

// The bypass suite's wire-side attempts: each refused, and the data verified
// unchanged directly on the upstream database.

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public.secrets (id int PRIMARY KEY, body text NOT NULL);
  INSERT INTO public.orders VALUES (1, 10), (2, 20), (3, 30);
  INSERT INTO public.secrets VALUES (1, 'root password');
`;

let world: PgWorld;

beforeAll(async () => {
  world = await PgWorld.start(SCHEMA);
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

const orders = () => world.direct(async (c) => (await c.query('SELECT id, total FROM orders ORDER BY id')).rows);
const secrets = () => world.direct(async (c) => (await c.query('SELECT id, body FROM secrets ORDER BY id')).rows);
const ORDERS = [{ id: 1, total: 10 }, { id: 2, total: 20 }, { id: 3, total: 30 }];

describe('wire-side bypass attempts', () => {
  it('a writable CTE inside an extended-protocol Parse is refused, the rest of the batch skipped until Sync', async () => {
    const { token } = await world.issue(['appdb:select:public.orders']);
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      const answer = await client.roundTrip(2,
        build.parse('', 'SELECT total FROM orders WHERE id = 1'), build.bind('', ''), build.execute(), build.sync(),
        build.parse('', 'WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone'), build.bind('', ''), build.execute(), build.sync(),
      );
      expect(summary(answer)).toEqual(['1', '2', 'D', 'complete:SELECT 1', 'ready:I', 'error:42501', 'ready:I']);
      const refused = answer.find((r) => r.message.name === 'error')!.message;
      expect(refused.name === 'error' && refused.fields.get('M')).toMatch(/^latchkey: permission_denied: .*delete on public\.orders/);
      // Still usable afterwards.
      expect(summary(await client.roundTrip(1, build.query('SELECT count(*) FROM orders')))).toEqual(['T', 'D', 'complete:SELECT 1', 'ready:I']);
    } finally {
      client.close();
    }
    expect(await orders()).toEqual(ORDERS);
  });

  it('BEGIN; allowed delete; refused statement; COMMIT: the transaction is aborted as PostgreSQL would, nothing changed', async () => {
    const { token } = await world.issue(['appdb:select:public.orders', 'appdb:delete:public.orders']);
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      expect(summary(await client.roundTrip(1, build.query('BEGIN')))).toEqual(['complete:BEGIN', 'ready:T']);
      expect(summary(await client.roundTrip(1, build.query('DELETE FROM orders WHERE id = 1')))).toEqual(['complete:DELETE 1', 'ready:T']);
      expect(summary(await client.roundTrip(1, build.query('DELETE FROM secrets')))).toEqual(['error:42501', 'ready:E']);
      expect(summary(await client.roundTrip(1, build.query('SELECT 1 FROM orders')))).toEqual(['error:25P02', 'ready:E']);
      expect(summary(await client.roundTrip(1, build.query('COMMIT')))).toEqual(['complete:ROLLBACK', 'ready:I']);
    } finally {
      client.close();
    }
    expect(await orders()).toEqual(ORDERS);
    expect(await secrets()).toEqual([{ id: 1, body: 'root password' }]);
  });

  it('the same in the extended protocol, pipelined in one write', async () => {
    const { token } = await world.issue(['appdb:select:public.orders', 'appdb:delete:public.orders']);
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      const answer = await client.roundTrip(3,
        build.query('BEGIN'),
        build.parse('', 'DELETE FROM orders WHERE id = $1'), build.bind('', '', ['2']), build.execute(),
        build.parse('', 'DELETE FROM secrets'), build.bind('', ''), build.execute(), build.sync(),
        build.query('COMMIT'),
      );
      expect(summary(answer)).toEqual(['complete:BEGIN', 'ready:T', '1', '2', 'complete:DELETE 1', 'error:42501', 'ready:E', 'complete:ROLLBACK', 'ready:I']);
    } finally {
      client.close();
    }
    expect(await orders()).toEqual(ORDERS);
    expect(await secrets()).toEqual([{ id: 1, body: 'root password' }]);
  });

  it('a multi-statement Query with one refused statement is refused whole', async () => {
    const { token } = await world.issue(['appdb:select:public.orders']);
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      expect(summary(await client.roundTrip(1, build.query('SELECT 1 FROM orders; DROP TABLE secrets')))).toEqual(['error:42501', 'ready:I']);
    } finally {
      client.close();
    }
    expect(await secrets()).toEqual([{ id: 1, body: 'root password' }]);
  });

  it('a statement prepared while allowed is refused after the role is narrowed; after revocation the session ends', async () => {
    await world.world.store.createRole({ name: 'reader', description: '', permissions: ['appdb:select:public.orders', 'appdb:select:public.secrets'], createdAt: T0, updatedAt: T0 }, SYSTEM_ACTOR);
    const { token, record } = await world.world.issue({ roles: ['reader'], expiresAt: Date.now() + 3_600_000 });
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      expect(summary(await client.roundTrip(1, build.parse('s1', 'SELECT total FROM orders WHERE id = 1'), build.bind('', 's1'), build.execute(), build.sync())))
        .toEqual(['1', '2', 'D', 'complete:SELECT 1', 'ready:I']);
      const narrowed = { name: 'reader', description: '', permissions: ['appdb:select:public.secrets'], createdAt: T0, updatedAt: T0 + 1 };
      await world.world.store.updateRole(narrowed, SYSTEM_ACTOR, { expected: ['appdb:select:public.orders', 'appdb:select:public.secrets'], widens: false });
      expect(summary(await client.roundTrip(1, build.bind('', 's1'), build.execute(), build.sync()))).toEqual(['error:42501', 'ready:I']);
      await world.world.store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
      const start = client.received.length;
      client.send(build.bind('', 's1'), build.execute(), build.sync());
      await client.until(() => client.closed);
      const after = client.received.slice(start);
      expect(summary(after)).toEqual(['error:28P01']);
      const fatal = after[0]!.message;
      expect(fatal.name === 'error' && fatal.fields.get('S')).toBe('FATAL');
      expect(fatal.name === 'error' && fatal.fields.get('M')).toMatch(/^latchkey: token_revoked:/);
    } finally {
      client.close();
    }
    expect(await orders()).toEqual(ORDERS);
  });

  it('Bind of a statement the gateway never saw prepared (SQL PREPARE or a guess) is refused', async () => {
    const { token } = await world.issue(['appdb:select:public.orders']);
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      expect(summary(await client.roundTrip(1, build.bind('', 'not_prepared'), build.execute(), build.sync()))).toEqual(['error:42501', 'ready:I']);
    } finally {
      client.close();
    }
  });

  it('SSLRequest and GSSENCRequest are answered N, then startup goes on in clear text over loopback', async () => {
    const { token } = await world.issue(['appdb:select:public.orders']);
    const client = await RawClient.open(world.port);
    try {
      client.raw = true;
      client.send(build.sslRequest());
      await client.until(() => client.bytes.length > 0);
      client.send(build.gssEncRequest());
      await client.until(() => Buffer.concat(client.bytes).length >= 2);
      expect(Buffer.concat(client.bytes).toString()).toBe('NN');
      client.raw = false;
      client.send(build.startup({ user: 'x', database: 'appdb' }));
      await client.until((r) => r.length > 0);
      client.send(build.password(token));
      await client.until((r) => r.some((x) => x.message.name === 'readyForQuery'));
      expect(summary(client.received)).toContain('backendKeyData');
    } finally {
      client.close();
    }
  });
});
