import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgWorld, refusalOf } from './testing/pg-world.js';

// The SQL side of the bypass suite, through the wire with the pg driver,
// simple and extended protocol: every attempt refused with 42501, the session
// usable after it, and the data verified unchanged directly on the database.

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public."Orders" (id int PRIMARY KEY, note text NOT NULL);
  CREATE TABLE public.secrets (id int PRIMARY KEY, body text NOT NULL);
  CREATE SCHEMA other;
  CREATE TABLE other.orders (id int PRIMARY KEY, total int NOT NULL);
  INSERT INTO public.orders VALUES (1, 10), (2, 20);
  INSERT INTO public."Orders" VALUES (1, 'mixed case');
  INSERT INTO public.secrets VALUES (1, 'root password');
  INSERT INTO other.orders VALUES (1, 99);
`;

const ATTEMPTS = [
  'WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone',
  'WITH x AS (SELECT 1) UPDATE orders SET total = 0',
  'SELECT 1 FROM orders; DROP TABLE secrets',
  'SELECT * FROM orders FOR UPDATE',
  'SELECT * FROM orders FOR SHARE',
  'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
  "SELECT pg_read_file('/etc/passwd')",
  "SELECT lo_import('/etc/passwd')",
  "SELECT * FROM dblink('dbname=postgres', 'DELETE FROM orders') AS t(x int)",
  "SELECT set_config('search_path', 'other', false)",
  "SELECT set_config('default_transaction_read_only', 'off', false)",
  "COPY orders TO PROGRAM 'cat > /tmp/latchkey-owned'",
  "COPY orders FROM '/etc/passwd'",
  'SET default_transaction_read_only = off',
  'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
  'BEGIN READ WRITE',
  'SET search_path = other',
  'SET search_path TO other, public',
  'RESET ALL',
  'DISCARD ALL',
  'SET ROLE postgres',
  'SET SESSION AUTHORIZATION postgres',
  "SET client_encoding = 'SJIS'",
  "DO $$ BEGIN DELETE FROM orders; END $$",
  'PREPARE p AS DELETE FROM orders',
  'SELECT * FROM "Orders"',
  'SELECT * FROM other.orders',
  'SELECT * FROM other . orders',
  'SELECT * FROM /* public. */ secrets',
  'SELECT * FROM orders, secrets',
  'SELECT (SELECT body FROM secrets LIMIT 1) FROM orders',
  "SELECT * FROM orders WHERE total = (SELECT count(*) FROM secrets WHERE body = $x$'$x$)",
  'DELETE FROM ORDERS',
  'dElEtE FrOm "orders"',
  'INSERT INTO orders SELECT id + 10, total FROM orders',
  'TRUNCATE orders',
  'ALTER TABLE orders ADD COLUMN x int',
  'CREATE TEMP TABLE orders (id int)',
  'LOCK TABLE orders',
  'NOTIFY x',
  'VACUUM orders',
  'CALL nothing()',
];

let world: PgWorld;
let token: string;

beforeAll(async () => {
  world = await PgWorld.start(SCHEMA);
  token = (await world.issue(['appdb:select:public.orders'])).token;
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

const snapshot = () => world.direct(async (c) => ({
  orders: (await c.query('SELECT * FROM public.orders ORDER BY id')).rows,
  mixed: (await c.query('SELECT * FROM public."Orders" ORDER BY id')).rows,
  secrets: (await c.query('SELECT * FROM public.secrets ORDER BY id')).rows,
  other: (await c.query('SELECT * FROM other.orders ORDER BY id')).rows,
  tables: (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname IN ('public', 'other')")).rows,
}));

describe('SQL bypass attempts through the wire', () => {
  it.each(ATTEMPTS)('%s: refused in the simple and the extended protocol', async (sql) => {
    const before = await snapshot();
    const client = await world.client(token);
    try {
      const simple = await client.query(sql).then(() => 'ran', refusalOf);
      expect(simple).toMatchObject({ code: '42501', message: expect.stringMatching(/^latchkey: (permission_denied|invalid_request): /) });
      const extended = await client.query({ text: sql, values: [] }).then(() => 'ran', refusalOf);
      expect(extended).toMatchObject({ code: '42501' });
      expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 2 }]);
    } finally {
      await client.end();
    }
    expect(await snapshot()).toEqual(before);
  });

  it('spellings of the granted table that are the granted table are allowed; the session is read-only on the upstream too', async () => {
    const client = await world.client(token);
    try {
      for (const sql of ['SELECT total FROM ORDERS WHERE id = 1', 'SELECT total FROM "orders" WHERE id = 1', 'SELECT total FROM public . orders WHERE id = 1', 'select total from /* c */ orders where id = $q$1$q$::int']) {
        expect((await client.query(sql)).rows, sql).toEqual([{ total: 10 }]);
      }
      const readOnly = await client.query('SHOW transaction_read_only').then((r) => r.rows[0].transaction_read_only as string, (err) => refusalOf(err).code);
      // Either the analyzer refuses SHOW, or the upstream says the session is read-only.
      expect(['on', '42501']).toContain(readOnly);
    } finally {
      await client.end();
    }
  });
});
