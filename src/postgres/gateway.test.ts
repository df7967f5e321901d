import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgWorld, refusalOf } from './testing/pg-world.js';

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public.secrets (id int PRIMARY KEY, body text NOT NULL);
  INSERT INTO public.orders VALUES (1, 10), (2, 20), (3, 30);
  INSERT INTO public.secrets VALUES (1, 'root password');
`;

let world: PgWorld;
let token: string;

beforeAll(async () => {
  world = await PgWorld.start(SCHEMA);
  token = (await world.issue(['appdb:select:public.orders'])).token;
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

describe('PostgreSQL gateway with the pg driver', () => {
  it('reads the granted table, simple and extended protocol', async () => {
    const client = await world.client(token);
    try {
      const simple = await client.query('SELECT id, total FROM orders ORDER BY id');
      expect(simple.rows).toEqual([{ id: 1, total: 10 }, { id: 2, total: 20 }, { id: 3, total: 30 }]);
      const extended = await client.query('SELECT total FROM public.orders WHERE id = $1', [2]);
      expect(extended.rows).toEqual([{ total: 20 }]);
      const named = await client.query({ name: 'by-id', text: 'SELECT total FROM orders WHERE id = $1', values: [3] });
      expect(named.rows).toEqual([{ total: 30 }]);
      const again = await client.query({ name: 'by-id', text: 'SELECT total FROM orders WHERE id = $1', values: [1] });
      expect(again.rows).toEqual([{ total: 10 }]);
    } finally {
      await client.end();
    }
  });

  it('refuses every other table and action with 42501, naming reason, kind and table; the session stays usable', async () => {
    const client = await world.client(token);
    try {
      const attempts = [
        'SELECT * FROM secrets',
        'INSERT INTO orders VALUES (4, 40)',
        'UPDATE orders SET total = 0',
        'DELETE FROM orders',
        'TRUNCATE orders',
        'DROP TABLE orders',
        'SELECT * FROM orders FOR UPDATE',
      ];
      for (const sql of attempts) {
        const simple = await client.query(sql).then(() => null, refusalOf);
        expect(simple?.code, sql).toBe('42501');
        expect(simple?.message, sql).toMatch(/^latchkey: (permission_denied|invalid_request): /);
        const extended = await client.query({ text: sql, values: [] }).then(() => null, refusalOf);
        expect(extended?.code, sql).toBe('42501');
      }
      const denied = await client.query('DELETE FROM orders').catch(refusalOf) as { message: string };
      expect(denied.message).toContain('delete');
      expect(denied.message).toContain('public.orders');
      expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 3 }]);
    } finally {
      await client.end();
    }
    const rows = await world.direct(async (c) => (await c.query('SELECT id, total FROM orders ORDER BY id')).rows);
    expect(rows).toEqual([{ id: 1, total: 10 }, { id: 2, total: 20 }, { id: 3, total: 30 }]);
  });

  it('pipelines queries issued without awaiting, allowed and refused, each answered in order', async () => {
    const client = await world.client(token);
    try {
      const results = await Promise.all([
        client.query('SELECT total FROM orders WHERE id = $1', [1]).then((r) => r.rows[0].total as number),
        client.query('DELETE FROM orders WHERE id = $1', [1]).then(() => 'deleted', (err) => refusalOf(err).code),
        client.query('SELECT total FROM orders WHERE id = 2').then((r) => r.rows[0].total as number),
        client.query({ name: 'p3', text: 'SELECT total FROM orders WHERE id = $1', values: [3] }).then((r) => r.rows[0].total as number),
        client.query('SELECT body FROM secrets').then(() => 'read', (err) => refusalOf(err).code),
        client.query({ name: 'p3', text: 'SELECT total FROM orders WHERE id = $1', values: [2] }).then((r) => r.rows[0].total as number),
      ]);
      expect(results).toEqual([10, '42501', 20, 30, '42501', 20]);
    } finally {
      await client.end();
    }
  });

  it('refuses a token that is unknown, or a database that names no service', async () => {
    const unknown = await world.client('lk_prod_' + 'a'.repeat(38)).then(() => null, refusalOf);
    expect(unknown?.code).toBe('28P01');
    const noService = await world.client(token, 'nosuch').then(() => null, refusalOf);
    expect(noService).toEqual({ code: '3D000', message: 'latchkey: service_unknown: no such service' });
  });

  it('audits each statement with kinds, tables, fingerprint and rows, and each refusal with its reason', async () => {
    const client = await world.client(token);
    try {
      await client.query('SELECT id FROM orders WHERE total > 15');
      await client.query('DELETE FROM orders WHERE id = 9').catch(() => {});
    } finally {
      await client.end();
    }
    const decisions = await world.world.decisions();
    const allowed = decisions.find((d) => d.action === 'select' && String(d.resource).startsWith('public.orders fingerprint=') && String(d.resource).endsWith(' rows=2'));
    expect(allowed).toMatchObject({ service: 'appdb', decision: 'allow', reason: 'allowed' });
    const refused = decisions.find((d) => d.decision === 'deny' && d.action === 'delete');
    expect(refused).toMatchObject({ service: 'appdb', reason: 'permission_denied' });
    expect(String(refused!.resource)).toMatch(/^public\.orders fingerprint=/);
    expect(JSON.stringify(decisions)).not.toContain('total > 15');
  });
});
