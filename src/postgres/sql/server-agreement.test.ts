// The walker's claims about how PostgreSQL resolves names, checked on the real
// server (a database of its own, search_path pinned to public as the gateway
// pins it): for each statement, the table the server actually read or wrote is
// among the uses the analyzer reports. A disagreement here would be a bypass.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/postgres.js';
import { analyzeSql, loadSqlParser, type TableUse } from './index.js';

let database: TestDatabase;
let client: pg.Client;

const LONG = `customers${'x'.repeat(54)}`; // 63 bytes: the longest identifier PostgreSQL keeps

beforeAll(async () => {
  await loadSqlParser();
  database = await createTestDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query('SET search_path = public');
  await client.query(`
    CREATE TABLE t (who text); INSERT INTO t VALUES ('table t');
    CREATE TABLE public.pg_class (who text); INSERT INTO public.pg_class VALUES ('public.pg_class');
    CREATE TABLE pg_mine (who text); INSERT INTO pg_mine VALUES ('public.pg_mine');
    CREATE TABLE ${LONG} (who text); INSERT INTO ${LONG} VALUES ('the truncated name');
  `);
}, 60_000);

afterAll(async () => {
  await client?.end();
  await database?.drop();
});

function uses(sql: string): readonly TableUse[] {
  const analysis = analyzeSql(sql);
  if (!analysis.ok) throw new Error(`refused: ${analysis.refusal.detail}`);
  return analysis.statements.flatMap((statement) => statement.uses);
}

const has = (action: string, schema: string, table: string) => expect.arrayContaining([{ action, schema, table }]);

describe('the analyzer resolves names as the server does', () => {
  it('an unqualified pg_ name is the catalog when one exists, else public: both are reported', async () => {
    const catalog = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_class');
    expect(Number(catalog.rows[0]!.n)).toBeGreaterThan(100); // pg_catalog.pg_class, not the one-row table in public
    expect(uses('SELECT count(*) FROM pg_class')).toEqual(has('select', 'pg_catalog', 'pg_class'));
    expect((await client.query('SELECT who FROM pg_mine')).rows).toEqual([{ who: 'public.pg_mine' }]);
    expect(uses('SELECT who FROM pg_mine')).toEqual(has('select', 'public', 'pg_mine'));
  });

  it('an identifier past 63 bytes names the truncated table', async () => {
    const sql = `SELECT who FROM ${LONG}yyyyyyy`;
    expect((await client.query(sql)).rows).toEqual([{ who: 'the truncated name' }]);
    expect(uses(sql)).toEqual([{ action: 'select', schema: 'public', table: LONG }]);
  });

  it('a CTE does not hide the table a statement writes, nor the table of its own name', async () => {
    await client.query('BEGIN');
    try {
      const deleted = await client.query('WITH t AS (SELECT 1 AS who) DELETE FROM t');
      expect(deleted.rowCount).toBe(1);
      expect(uses('WITH t AS (SELECT 1 AS who) DELETE FROM t')).toEqual(has('delete', 'public', 't'));
    } finally {
      await client.query('ROLLBACK');
    }
    const sql = "WITH t AS (SELECT who || ' via cte' AS who FROM t) SELECT * FROM t";
    expect((await client.query(sql)).rows).toEqual([{ who: 'table t via cte' }]);
    expect(uses(sql)).toEqual([{ action: 'select', schema: 'public', table: 't' }]);
    const outside = "SELECT s.who, t.who AS outer FROM (WITH t AS (SELECT 'cte' AS who) SELECT * FROM t) s, t";
    expect((await client.query(outside)).rows).toEqual([{ who: 'cte', outer: 'table t' }]);
    expect(uses(outside)).toEqual([{ action: 'select', schema: 'public', table: 't' }]);
  });

  it('EXPLAIN ANALYZE runs its statement', async () => {
    await client.query('BEGIN');
    try {
      await client.query('EXPLAIN ANALYZE DELETE FROM t');
      expect((await client.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
      expect(uses('EXPLAIN ANALYZE DELETE FROM t')).toEqual(has('delete', 'public', 't'));
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('quoting, case, spacing, comments and unicode escapes name the same table', async () => {
    for (const sql of ['SELECT who FROM T', 'SELECT who FROM "t"', 'SELECT who FROM public . /* x */ t', 'SELECT who FROM U&"\\0074"']) {
      expect((await client.query(sql)).rows, sql).toEqual([{ who: 'table t' }]);
      expect(uses(sql), sql).toEqual([{ action: 'select', schema: 'public', table: 't' }]);
    }
    await expect(client.query('SELECT who FROM "T"')).rejects.toThrow(/does not exist/);
    expect(uses('SELECT who FROM "T"')).toEqual([{ action: 'select', schema: 'public', table: 'T' }]);
  });
});
