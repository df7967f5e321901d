// A token's SQL scope: the analysis of a query string (analyze.ts) judged by
// the token's grant and the service's function list, with the verdict cached.
//
// The cache key is libpg-query's normalized text, not its fingerprint. The
// fingerprint drops more than literal values — measured (scope.property.test.ts
// and the bypass suite keep it so): `secret.orders` and `public.orders`
// fingerprint alike, so do `FROM orders o JOIN users u` and `... JOIN secrets u`,
// `'x'::regclass` and `'x'::text`, and `BEGIN READ WRITE` and `BEGIN READ ONLY`.
// The normalized text keeps every token as written except literals, which
// become $n; normalize fails on what does not parse, so a key exists only for
// a statement that parses. The walk never reads a literal's value and treats
// a literal and a $n parameter alike, so two strings with one normalized text
// get one verdict. A string that does not parse, or holds a NUL, is never cached.
//
// Before that, the exact text is looked up (the same text is trivially the same
// verdict): a driver's parameterized statements repeat byte for byte, and then
// authorize is one Map lookup. Then, for a single DML statement, the text with
// its literals masked by a small lexer of our own (literal-key.ts: a pass in
// JavaScript, no parse), which the simple protocol's inline literals hit; a
// key is remembered there only with the verdict the normalized text gave.
// Otherwise a hit costs one normalize (a parse in WebAssembly, without
// building the JSON tree) and a lookup. Each map holds at
// most CACHE_ENTRIES verdicts and CACHE_CHARS characters of keys, first in
// first out, keyed by texts up to CACHE_KEY_CHARS long. A scope is for one
// grant: when the grant changes, build a new scope (its cache starts empty).

import type { CompiledGrant } from '../../policy/index.js';
import { actionsOf } from '../../policy/index.js';
import { analyzeSql } from './analyze.js';
import { functionAllowed } from './functions.js';
import { literalKey } from './literal-key.js';
import { fingerprintOf, normalized } from './parser.js';
import { quoteName } from './walk.js';
import type { AnalyzedStatement, SqlScope, SqlVerdict } from './types.js';

export const CACHE_ENTRIES = 4096;
export const CACHE_KEY_CHARS = 16_384;
/** Characters of keys one map may hold: with the entry bound, a scope's cache stays near a few MB. */
export const CACHE_CHARS = 1_000_000;

export interface SqlScopeOptions {
  readonly service: string;
  readonly grant: CompiledGrant;
  /** The service's `sqlFunctions`: functions allowed beyond the built-in list (`name` or `schema.name`). */
  readonly functions: readonly string[];
}

function fingerprintOrNull(sql: string): string | null {
  try {
    return fingerprintOf(sql);
  } catch {
    return null;
  }
}

function judge(sql: string, options: SqlScopeOptions, listed: ReadonlySet<string>): SqlVerdict {
  const analysis = analyzeSql(sql);
  if (!analysis.ok) {
    const { refusal, kind, parsed } = analysis;
    return { allowed: false, reason: refusal.reason, detail: refusal.detail, kind, table: refusal.table, fingerprint: parsed ? fingerprintOrNull(sql) : null };
  }
  for (const statement of analysis.statements) {
    const refusal = refusalOf(statement, options, listed);
    if (refusal !== null) return { ...refusal, fingerprint: fingerprintOrNull(sql) };
  }
  const needsWrite = analysis.statements.some((statement) => statement.uses.some((use) => use.action !== 'select'));
  // One statement: its fingerprint is the string's (analyzeSql fingerprinted the same text).
  const fingerprint = analysis.statements.length === 1 ? analysis.statements[0]!.fingerprint : fingerprintOrNull(sql) ?? '';
  return { allowed: true, statements: analysis.statements, fingerprint, needsWrite };
}

function refusalOf(statement: AnalyzedStatement, options: SqlScopeOptions, listed: ReadonlySet<string>) {
  for (const call of statement.functions) {
    if (!functionAllowed(call, listed)) {
      return {
        allowed: false as const, reason: 'permission_denied' as const, kind: statement.kind, table: null,
        detail: `${statement.kind}: function ${call} is not allowed (not a built-in side-effect-free function; the service may allow it: --sql-function ${call})`,
      };
    }
  }
  for (const use of statement.uses) {
    const decision = options.grant.decidePostgres(options.service, use.action, use.schema, use.table);
    if (!decision.allowed) {
      const table = `${quoteName(use.schema)}.${quoteName(use.table)}`;
      return {
        allowed: false as const, reason: 'permission_denied' as const, kind: statement.kind, table,
        detail: `${statement.kind}: ${use.action} on ${table} is not granted (needs ${options.service}:${use.action}:${table})`,
      };
    }
  }
  return null;
}

function frozen(verdict: SqlVerdict): SqlVerdict {
  if (verdict.allowed) {
    for (const statement of verdict.statements) {
      for (const use of statement.uses) Object.freeze(use);
      Object.freeze(statement.uses);
      Object.freeze(statement.functions);
      Object.freeze(statement);
    }
    Object.freeze(verdict.statements);
  }
  return Object.freeze(verdict);
}

export function sqlScope(options: SqlScopeOptions): SqlScope {
  const listed = new Set(options.functions);
  const exact = new VerdictCache();
  const literals = new VerdictCache();
  const shapes = new VerdictCache();
  return {
    authorize(sql: string): SqlVerdict {
      const seen = exact.get(sql);
      if (seen !== undefined) return seen;
      // Before the keys: the parser behind normalize reads a C string and would stop at a NUL,
      // giving `SELECT 1\0; DROP ...` the key of `SELECT 1`. analyzeSql refuses a NUL.
      if (sql.length > CACHE_KEY_CHARS || sql.includes('\u0000')) return frozen(judge(sql, options, listed));
      const masked = literalKey(sql);
      if (masked !== undefined) {
        // Texts that differ only in literals repeat rarely: not copied into the exact map.
        const known = literals.get(masked);
        if (known !== undefined) return known;
      }
      const key = normalized(sql);
      if (key === undefined || key.length > CACHE_KEY_CHARS) return frozen(judge(sql, options, listed));
      const verdict = shapes.get(key) ?? shapes.remember(key, frozen(judge(sql, options, listed)));
      if (masked !== undefined) literals.remember(masked, verdict);
      return exact.remember(sql, verdict);
    },
  };
}

/** Verdicts by text, first in first out within CACHE_ENTRIES entries and CACHE_CHARS characters. */
class VerdictCache {
  readonly #verdicts = new Map<string, SqlVerdict>();
  #chars = 0;

  get(key: string): SqlVerdict | undefined {
    return this.#verdicts.get(key);
  }

  remember(key: string, verdict: SqlVerdict): SqlVerdict {
    while (this.#verdicts.size > 0 && (this.#verdicts.size >= CACHE_ENTRIES || this.#chars + key.length > CACHE_CHARS)) {
      const oldest = this.#verdicts.keys().next().value!;
      this.#verdicts.delete(oldest);
      this.#chars -= oldest.length;
    }
    this.#verdicts.set(key, verdict);
    this.#chars += key.length;
    return verdict;
  }
}

/** Whether the grant allows this service anything but select (else the session is made read-only too). */
export function grantCanWrite(grant: CompiledGrant, service: string): boolean {
  return grant.permissions.some((permission) => permission.effect === 'allow' && permission.service === service
    && (actionsOf('postgres', permission.action) ?? []).some((action) => action !== 'select'));
}
