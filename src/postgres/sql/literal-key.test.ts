// The literal-masked key: which texts share a key (only those that are the same
// tokens but for literal values), which get none (everything the small lexer
// does not read exactly as PostgreSQL does), and, against the real parser, that
// texts sharing a key always get one verdict (the property in
// scope.property.test.ts covers the same over a generated corpus).

import { beforeAll, describe, expect, it } from 'vitest';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../../policy/index.js';
import { loadSqlParser, sqlScope } from './index.js';
import { literalKey } from './literal-key.js';

beforeAll(loadSqlParser);

const same = (a: string, b: string) => {
  expect(literalKey(a), a).toBeDefined();
  expect(literalKey(a), `${a} / ${b}`).toBe(literalKey(b));
};
const apart = (a: string, b: string) => {
  expect(literalKey(a), a).toBeDefined();
  expect(literalKey(b), b).toBeDefined();
  expect(literalKey(a), `${a} / ${b}`).not.toBe(literalKey(b));
};

describe('literalKey', () => {
  it('masks integers, other numbers and standard strings, keeping everything else as written', () => {
    same('SELECT abalance FROM pgbench_accounts WHERE aid = 57412;', 'SELECT abalance FROM pgbench_accounts WHERE aid = 3;');
    same("SELECT * FROM orders WHERE note = 'it''s' AND total > 1.5", "SELECT * FROM orders WHERE note = '' AND total > 2e10");
    same("INSERT INTO orders VALUES (1, '-- not a comment /* nor this */ ; DROP TABLE x')", "INSERT INTO orders VALUES (2, 'x')");
    same('UPDATE t SET a = a + -3012 WHERE id = 4', 'UPDATE t SET a = a + -1 WHERE id = 0004');
    same('SELECT * FROM "My ""Table""" WHERE x = 1', 'SELECT * FROM "My ""Table""" WHERE x = 2');
    same('WITH d AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT * FROM d', 'WITH d AS (DELETE FROM orders WHERE id = 9 RETURNING *) SELECT * FROM d');
    expect(literalKey('SELECT 1')).toBe('SELECT \u0001');
  });

  it('keeps apart what differs in anything but a literal value, and the token kinds of literals', () => {
    apart('SELECT * FROM orders WHERE id = 1', 'SELECT * FROM secrets WHERE id = 1');
    apart('SELECT * FROM orders WHERE id = 1', 'SELECT * FROM ORDERS WHERE id = 1');
    apart('SELECT * FROM orders WHERE id = 1', 'SELECT * FROM "orders" WHERE id = 1');
    apart('SELECT * FROM public.orders', 'SELECT * FROM public . orders');
    apart('SELECT a b FROM t', 'SELECT ab FROM t');
    // ICONST, FCONST and SCONST are different tokens to the grammar.
    apart('SELECT 1::float(1)', 'SELECT 1::float(1.5)');
    apart('SELECT 1::float(2147483647)', 'SELECT 1::float(2147483648)');
    apart("SELECT 1", "SELECT '1'");
    apart('SELECT 1 FROM t', 'SELECT 1 FROM t;');
  });

  it('gives no key to what it does not read exactly as PostgreSQL does', () => {
    const none = [
      'SHOW search_path', 'SET search_path = 1', 'COPY t TO STDOUT', 'EXPLAIN SELECT 1', 'BEGIN', '',
      'SELECT 1; DROP TABLE orders', 'SELECT 1;;', 'SELECT 1 -- comment', 'SELECT /* c */ 1', 'SELECT $1', 'SELECT $$x$$', 'SELECT $q$x$q$',
      "SELECT E'\\''", "SELECT e'x'", "SELECT B'101'", "SELECT X'1F'", "SELECT N'x'", "SELECT U&'d\\0061t'", 'SELECT U&"d!0061t" UESCAPE \'!\'',
      "SELECT 'a\\'", "SELECT 'open", 'SELECT "open', "SELECT 'a' 'b'", "SELECT 'a'\n'b'", 'SELECT 1 2',
      'SELECT 1e', 'SELECT 1e+', 'SELECT 0x1F', 'SELECT 0o17', 'SELECT 0b101', 'SELECT 1_000', 'SELECT 1..2', 'SELECT 1.2.3', 'SELECT .5', 'SELECT t.1 FROM t',
      'SELECT 123abc', "SELECT 1'a'", "SELECT 'a'b", 'SELECT 1"x"', 'SELECT abc$def FROM t', 'SELECT café FROM t', 'SELECT "a\u0001" FROM t',
      'SELECT\f1', 'SELECT\u000b1', 'SELECT 1\u0000', 'SELECT\u00a01',
    ];
    for (const sql of none) expect(literalKey(sql), JSON.stringify(sql)).toBeUndefined();
  });

  it('texts that share a key get one verdict from the real parser, for a grant that allows some and refuses others', () => {
    const catalog: ServiceCatalog = { kindOf: (service) => (service === 'appdb' ? 'postgres' : undefined) };
    const grant = compileGrant(parsePermissions(['appdb:select:public.orders', 'appdb:insert:public.order_notes'], catalog, 'grant'), catalog);
    const fresh = () => sqlScope({ service: 'appdb', grant, functions: [] });
    const warm = fresh();
    const families = [
      (v: string) => `SELECT * FROM orders WHERE id = ${v}`,
      (v: string) => `SELECT * FROM secrets WHERE id = ${v}`,
      (v: string) => `INSERT INTO order_notes VALUES (${v}, ${v})`,
      (v: string) => `DELETE FROM orders WHERE id = ${v}`,
      (v: string) => `SELECT ${v}::regclass`,
      (v: string) => `SELECT pg_sleep(${v}) FROM orders`,
      (v: string) => `SELECT * FROM orders WHERE id = ${v} FOR UPDATE`,
      (v: string) => `SELECT * FROM orders LIMIT ${v}`,
    ];
    const values = ['1', '42', '2147483647', '2147483648', '1.5', '1e3', "'x'", "''", "'--'", "'; DROP TABLE orders'", "'pg_authid'"];
    let verdicts = 0;
    for (const family of families) {
      for (const value of values) {
        const sql = family(value);
        const cached = warm.authorize(sql);
        expect(cached, sql).toEqual(fresh().authorize(sql));
        verdicts += cached.allowed ? 1 : 0;
      }
    }
    // Both kinds of verdict were exercised.
    expect(verdicts).toBeGreaterThan(10);
    expect(verdicts).toBeLessThan(families.length * values.length - 10);
  });
});
