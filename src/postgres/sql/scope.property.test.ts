// The decision cache is sound: over a corpus of statements written with varied
// literals, parameters, comments, case, whitespace and identifier quoting, the
// verdict of a scope whose cache has seen many look-alikes always equals the
// verdict of a fresh parse-and-walk. And why the key is not the fingerprint:
// statements that fingerprint alike but must be decided differently.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../../policy/index.js';
import { fingerprintOf } from './parser.js';
import { loadSqlParser, sqlScope, type SqlScope } from './index.js';

const catalog: ServiceCatalog = { kindOf: (service) => (service === 'appdb' ? 'postgres' : undefined) };

const GRANTS: readonly (readonly string[])[] = [
  ['appdb:select:public.orders'],
  ['appdb:read:public.*', 'appdb:write:public.order*', '!appdb:*:public.secrets'],
  ['appdb:*:public.*', 'appdb:select:pg_catalog.*'],
];

function scopeFor(permissions: readonly string[]): SqlScope {
  return sqlScope({ service: 'appdb', grant: compileGrant(parsePermissions(permissions, catalog, 'grant'), catalog), functions: ['analytics.score'] });
}

// ---- the corpus ------------------------------------------------------------------

const gap = fc.constantFrom(' ', '  ', '\t', '\n', ' /* c */ ', ' /* nested /* c */ */ ', ' -- line\n', '\r\n ');

const literal = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((value) => value.toFixed(3)),
  fc.string({ maxLength: 12 }).map((text) => `'${text.replaceAll('\u0000', '').replaceAll("'", "''")}'`),
  fc.string({ maxLength: 12 }).map((text) => `$$${text.replaceAll('\u0000', '').replaceAll('$', '')}$$`),
  fc.string({ maxLength: 8 }).map((text) => `$tag$${text.replaceAll('\u0000', '').replaceAll('$', '')}$tag$`),
  fc.string({ maxLength: 8 }).map((text) => `E'${text.replaceAll('\u0000', '').replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`),
  fc.constantFrom('true', 'false', 'NULL', "B'101'", "X'1F'", '$1', '$2', '$3'),
);

/** A table named every way PostgreSQL reads it: the case folds, quotes keep it, a schema changes it. */
const table = fc.constantFrom(
  'orders', 'ORDERS', 'Orders', '"orders"', '"Orders"', 'public.orders', 'public . orders', '"public"."orders"', 'secret.orders',
  'order_lines', 'secrets', 'public.secrets', 'pg_authid', 'pg_catalog.pg_class', 'customers', 'U&"\\006frders"',
);

const fn = fc.constantFrom('lower', 'LOWER', '"lower"', '"Lower"', 'pg_catalog.lower', 'pg_sleep', 'analytics.score', 'score', 'set_config', 'upper');
const setting = fc.constantFrom('statement_timeout', 'search_path', 'application_name', 'role', 'default_transaction_read_only', 'app.tenant');

type Hole = fc.Arbitrary<string>;
const template = (parts: TemplateStringsArray, ...holes: Hole[]): fc.Arbitrary<string> =>
  fc.tuple(...holes, fc.array(gap, { minLength: parts.length, maxLength: parts.length }))
    .map((values) => {
      const spaces = values.at(-1) as string[];
      return parts.map((part, index) => part.replaceAll(' ', spaces[index]!) + (index < holes.length ? (values[index] as string) : '')).join('');
    });

const statement: fc.Arbitrary<string> = fc.oneof(
  template`SELECT * FROM ${table} WHERE id = ${literal}`,
  template`SELECT ${fn}(name), ${literal} FROM ${table} LIMIT ${literal}`,
  template`SELECT count(*) FROM ${table} o JOIN ${table} c ON c.id = o.id AND c.x > ${literal}`,
  template`WITH d AS (DELETE FROM ${table} WHERE id = ${literal} RETURNING *) SELECT * FROM d`,
  template`WITH ${table} AS (SELECT ${literal} AS id) SELECT * FROM ${table}`,
  template`INSERT INTO ${table} (id, note) VALUES (${literal}, ${literal}) ON CONFLICT (id) DO UPDATE SET note = ${literal}`,
  template`UPDATE ${table} SET total = ${literal} WHERE id = ${literal} RETURNING id`,
  template`SELECT * FROM ${table} WHERE id = ${literal} FOR UPDATE`,
  template`SELECT ${literal}::int, ${literal}::text, ${literal}::regclass FROM ${table}`,
  template`SET ${setting} = ${literal}`,
  template`SELECT set_config(${literal}, ${literal}, false)`,
  template`BEGIN READ ONLY`,
  template`BEGIN READ WRITE`,
  template`START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY`,
  template`COPY ${table} TO STDOUT`,
  template`COPY ${table} TO ${literal}`,
  template`EXPLAIN (ANALYZE ${fc.constantFrom('true', 'false', 'on', 'off')}) DELETE FROM ${table} WHERE id = ${literal}`,
  template`SELECT ${literal}; DROP TABLE ${table}`,
  template`SELECT * FROM ${table} WHERE note = ${literal}; SELECT * FROM ${table}`,
  template`TRUNCATE ${table}`,
  template`SELECT * FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE x = ${literal})`,
  template`CREATE TABLE ${table} (id int DEFAULT ${literal}, note text CHECK (${fn}(note) <> ${literal}))`,
  template`MERGE INTO ${table} t USING ${table} s ON t.id = s.id WHEN MATCHED AND s.x = ${literal} THEN UPDATE SET x = ${literal}`,
);

// ---- the properties ----------------------------------------------------------------

beforeAll(loadSqlParser);

describe('the decision cache', () => {
  it('a warm cache always gives the verdict a fresh parse-and-walk gives', () => {
    const warm = GRANTS.map(scopeFor);
    fc.assert(
      fc.property(statement, fc.nat({ max: GRANTS.length - 1 }), (sql, which) => {
        const cached = warm[which]!.authorize(sql);
        const fresh = scopeFor(GRANTS[which]!).authorize(sql);
        expect(cached).toEqual(fresh);
      }),
      { numRuns: 3000 },
    );
  });

  it('the corpus does hit the cache (the property is not vacuous)', () => {
    const scope = scopeFor(GRANTS[0]!);
    const samples = fc.sample(statement, { numRuns: 2000, seed: 7 });
    const seen = new Set<object>();
    let hits = 0;
    for (const sql of samples) {
      const verdict = scope.authorize(sql);
      if (seen.has(verdict)) hits += 1;
      seen.add(verdict);
    }
    expect(hits).toBeGreaterThan(200);
  });

  it('the fingerprint alone would be unsound: these fingerprint alike and are decided apart', () => {
    const scope = scopeFor(['appdb:select:public.orders', 'appdb:select:public.users']);
    const pairs: ReadonlyArray<readonly [string, string]> = [
      ['SELECT * FROM public.orders', 'SELECT * FROM secret.orders'],
      ['SELECT * FROM orders o JOIN users u ON true', 'SELECT * FROM orders o JOIN secrets u ON true'],
      ["SELECT 'orders'::text", "SELECT 'orders'::regclass"],
      ['BEGIN READ ONLY', 'BEGIN READ WRITE'],
    ];
    for (const [allowed, refused] of pairs) {
      expect(fingerprintOf(allowed)).toBe(fingerprintOf(refused));
      expect(scope.authorize(allowed)).toMatchObject({ allowed: true });
      expect(scope.authorize(refused)).toMatchObject({ allowed: false });
    }
  });
});
