// The decision cache is sound: over a corpus of statements written with varied
// literals, parameters, comments, case, whitespace and identifier quoting, the
// verdict of a scope whose cache has seen many look-alikes always equals the
// verdict of a fresh parse-and-walk. And why the key is not the fingerprint:
// statements that fingerprint alike but must be decided differently.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../../policy/index.js';
import { literalKey } from './literal-key.js';
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
  // What the literal-masked key (literal-key.ts) must read as PostgreSQL does: exponents, leading zeros,
  // integers past 32 bits (FCONST), quotes, and comment or statement punctuation inside strings.
  fc.constantFrom('1e5', '1.5e-3', '2.', '007', '2147483647', '2147483648', '99999999999999999999', "'it''s'", "'--'", "'/*'", "'; DROP TABLE orders'", "'\"'", "''"),
);

/** A table named every way PostgreSQL reads it: the case folds, quotes keep it, a schema changes it. */
const table = fc.constantFrom(
  'orders', 'ORDERS', 'Orders', '"orders"', '"Orders"', 'public.orders', 'public . orders', '"public"."orders"', 'secret.orders',
  'order_lines', 'secrets', 'public.secrets', 'pg_authid', 'pg_catalog.pg_class', 'customers', 'U&"\\006frders"',
);

const fn = fc.constantFrom('lower', 'LOWER', '"lower"', '"Lower"', 'pg_catalog.lower', 'pg_sleep', 'analytics.score', 'score', 'set_config', 'upper');
const setting = fc.constantFrom('statement_timeout', 'search_path', 'application_name', 'role', 'default_transaction_read_only', 'app.tenant');

/** Whitespace only: the texts the literal-masked key reads (comments send a text to the parser's path). */
const plainGap = fc.constantFrom(' ', '  ', '\t', '\n', '\r\n ');

type Hole = fc.Arbitrary<string>;
type Template = (parts: TemplateStringsArray, ...holes: Hole[]) => fc.Arbitrary<string>;
const templateWith = (gaps: fc.Arbitrary<string>): Template => (parts, ...holes) =>
  fc.tuple(...holes, fc.array(gaps, { minLength: parts.length, maxLength: parts.length }))
    .map((values) => {
      const spaces = values.at(-1) as string[];
      return parts.map((part, index) => part.replaceAll(' ', spaces[index]!) + (index < holes.length ? (values[index] as string) : '')).join('');
    });

const statementsOf = (template: Template, literal: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.oneof(
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

const statement: fc.Arbitrary<string> = fc.oneof(statementsOf(templateWith(gap), literal), statementsOf(templateWith(plainGap), literal));

/** A statement with its literals left as holes, and literals the literal-masked key reads, to fill them twice. */
const HOLE = '\u0007';
const skeleton = statementsOf(templateWith(plainGap), fc.constant(HOLE));
const plainLiteral = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((value) => value.toFixed(3)),
  fc.string({ maxLength: 12, unit: fc.constantFrom(...'abc XYZ019;-*/\'"$,()'.split('')) }).map((text) => `'${text.replaceAll("'", "''")}'`),
  fc.constantFrom('1e5', '1.5e-3', '2.', '007', '2147483647', '2147483648', '99999999999999999999', "'--'", "'/*'", "'; DROP TABLE orders'"),
);
/** Another literal of the same token kind: a small integer for a small integer, a string for a string. */
const sameKind = (value: string, i: number): string => {
  if (/^-?\d{1,6}$/.test(value)) return String((Number(value) + i + 1) % 1000);
  if (value.startsWith("'")) return `'other ${i}'`;
  return value;
};
const fill = (shape: string, values: readonly string[]): string => {
  let next = 0;
  return shape.replaceAll(HOLE, () => values[next++ % values.length]!);
};

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

  it('a statement seen with other literals gets, from the literal-masked key, the verdict a fresh parse-and-walk gives', () => {
    const warm = GRANTS.map(scopeFor);
    let shared = 0;
    fc.assert(
      fc.property(skeleton, fc.array(plainLiteral, { minLength: 1, maxLength: 6 }), fc.array(plainLiteral, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.nat({ max: GRANTS.length - 1 }), (shape, first, other, alike, which) => {
        // Half the time the second literals are of the first ones' kinds (the key is then shared), else any.
        const second = alike ? first.map((value, i) => sameKind(value, i)) : other;
        const seen = fill(shape, first);
        const asked = fill(shape, second);
        warm[which]!.authorize(seen);
        const key = literalKey(asked);
        if (key !== undefined && key === literalKey(seen)) shared += 1;
        expect(warm[which]!.authorize(asked)).toEqual(scopeFor(GRANTS[which]!).authorize(asked));
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: many pairs were answered from the literal-masked key.
    expect(shared).toBeGreaterThan(300);
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
