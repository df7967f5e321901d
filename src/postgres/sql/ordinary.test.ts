// The other side of deny-by-default: the SQL applications and drivers write
// every day is understood, classified, and allowed by a grant that covers it.

import { beforeAll, describe, expect, it } from 'vitest';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../../policy/index.js';
import { loadSqlParser, sqlScope } from './index.js';

const catalog: ServiceCatalog = { kindOf: (service) => (service === 'appdb' ? 'postgres' : undefined) };

const ORDINARY = [
  'SELECT DISTINCT a FROM t', 'SELECT * FROM t WHERE a IS NOT DISTINCT FROM b', 'SELECT * FROM t LIMIT ALL OFFSET 5',
  'SELECT * FROM t ORDER BY a FETCH FIRST 1 ROWS WITH TIES', 'SELECT ARRAY(SELECT 1)', 'SELECT ROW(1, 2) = ROW(1, 2)',
  "SELECT 1 WHERE 'a' ~ 'b'", "SELECT a FROM t WHERE a = ANY('{1,2}'::int[])", 'SELECT a::int[] FROM t', 'SELECT * FROM t NATURAL JOIN u',
  'SELECT * FROM t JOIN u USING (id) AS j', 'SELECT $1::text', 'SELECT 1 AS "x"', 'SELECT current_timestamp(3)', "SELECT CAST('1' AS int)",
  "SELECT 'a' || 'b'", 'SELECT a FROM t ORDER BY a DESC NULLS FIRST', 'SELECT count(DISTINCT a) FROM t', "SELECT string_agg(a, ',' ORDER BY a) FROM t",
  'SELECT * FROM t WHERE a BETWEEN SYMMETRIC 1 AND 2', 'SELECT a FROM t WHERE a IN (SELECT 1)', 'SELECT EXTRACT(epoch FROM now())',
  "SELECT now() AT TIME ZONE 'UTC'", "SELECT date_trunc('day', now())", "SELECT a FROM t WHERE a ILIKE '%x%' ESCAPE '!'", 'SELECT NULLIF(1, 2)',
  'SELECT GREATEST(1, 2), LEAST(1, 2)', 'SELECT a IS NOT NULL, (SELECT true) IS TRUE FROM t', 'SELECT * FROM t FOR UPDATE SKIP LOCKED',
  'UPDATE t SET a = DEFAULT', 'INSERT INTO t DEFAULT VALUES RETURNING *', 'SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1]))',
  'SELECT * FROM unnest(ARRAY[1, 2]) WITH ORDINALITY AS u(x, n)',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SEARCH DEPTH FIRST BY n SET ord SELECT * FROM r',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) CYCLE n SET is_cycle USING path SELECT * FROM r',
  "SELECT overlay('abc' PLACING 'x' FROM 2), position('a' IN 'abc'), trim(LEADING 'x' FROM 'xxa'), substring('abc' FROM 2 FOR 1)",
  'SELECT \'a\' COLLATE "C"', 'SELECT a FROM t TABLESAMPLE BERNOULLI (1) REPEATABLE (1)', 'SELECT CURRENT_TIMESTAMP, LOCALTIMESTAMP, CURRENT_USER',
  'SELECT a::numeric(10, 2) FROM t', "SELECT B'101'::bit(3)", "SELECT interval '1 hour' * 2", "SELECT '{\"a\":1}'::jsonb -> 'a', '{\"a\":1}'::jsonb ? 'a'",
  "SELECT 1 WHERE '{1}'::int[] && '{1}'", "SELECT 'abc' SIMILAR TO 'a%'", 'SELECT a FROM t WHERE NOT EXISTS (SELECT 1)', "VALUES (1, 'a') ORDER BY 1",
  'SELECT * FROM t INTERSECT SELECT * FROM u EXCEPT SELECT * FROM t', '(SELECT 1) UNION (SELECT 2) ORDER BY 1 LIMIT 1',
  'SELECT a, rank() OVER w FROM t WINDOW w AS (PARTITION BY b ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)',
  'SELECT a, count(*) FROM t GROUP BY GROUPING SETS ((a), ()) HAVING count(*) > 1', 'SELECT * FROM t WHERE (a, b) IN (SELECT 1, 2)',
  'SELECT abalance FROM pgbench_accounts WHERE aid = 1', 'UPDATE pgbench_accounts SET abalance = abalance + -42 WHERE aid = 1',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 5, CURRENT_TIMESTAMP)', 'END', 'ABORT', 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  'SET application_name = \'job\'', 'SET LOCAL statement_timeout = \'5s\'', 'RESET statement_timeout', 'SET TIME ZONE \'UTC\'', 'SHOW TRANSACTION ISOLATION LEVEL',
  'SET extra_float_digits = 3', 'DEALLOCATE ALL', 'DISCARD PLANS', 'CLOSE ALL', 'SET CONSTRAINTS ALL DEFERRED',
  'INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING', 'INSERT INTO t (a) VALUES (1) ON CONFLICT ON CONSTRAINT t_pkey DO NOTHING',
  'INSERT INTO t (a, b) SELECT a, b FROM u WHERE a > 1', 'UPDATE t SET (a, b) = (1, 2) WHERE a = 3', 'DELETE FROM t WHERE a = 1',
  'MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = u.a WHEN NOT MATCHED THEN INSERT (id, a) VALUES (u.id, u.a)',
  'COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER true)', 'COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT binary)',
  'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM t', 'SELECT * FROM t WHERE a = 1 AND b <> 2 OR NOT c',
  'SELECT make_interval(days => 1)', 'SELECT jsonb_build_object(\'a\', 1) || \'{}\'::jsonb', 'SELECT coalesce(max(a), 0) FROM t',
];

beforeAll(loadSqlParser);

describe('ordinary SQL', () => {
  it('is understood and allowed by a grant that covers it', () => {
    const scope = sqlScope({ service: 'appdb', grant: compileGrant(parsePermissions(['appdb:*:public.*'], catalog, 'grant'), catalog), functions: [] });
    const refused = ORDINARY.map((sql) => [sql, scope.authorize(sql)] as const).filter(([, verdict]) => !verdict.allowed);
    expect(refused).toEqual([]);
  });
});
