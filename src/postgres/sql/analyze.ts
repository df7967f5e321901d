// One query string → its statements, each walked whole (walk.ts, statements.ts,
// ddl.ts), before any grant is consulted. Refuses what does not parse and what
// the walk does not understand or never allows.

import { fingerprintOf, parseStatements, type RawStatement } from './parser.js';
import { SqlRefusal } from './refusal.js';
import { kindOf, walkStatement } from './statements.js';
import { newContext } from './walk.js';
import type { AnalyzedStatement } from './types.js';

export type Analysis =
  | { readonly ok: true; readonly statements: readonly AnalyzedStatement[] }
  | { readonly ok: false; readonly refusal: SqlRefusal; readonly kind: string; readonly parsed: boolean };

/** The text of one statement: libpg_query's offsets count UTF-8 bytes. */
function statementText(bytes: Buffer, raw: RawStatement): string {
  const start = raw.stmt_location ?? 0;
  const end = raw.stmt_len === undefined || raw.stmt_len === 0 ? bytes.length : start + raw.stmt_len;
  return bytes.subarray(start, end).toString('utf8');
}

export function analyzeSql(sql: string): Analysis {
  // An empty query (or only comments and semicolons) runs nothing: PostgreSQL answers EmptyQueryResponse.
  if (sql.length === 0) return { ok: true, statements: [] };
  // The parser reads a C string: past a NUL it would see nothing the server might.
  if (sql.includes('\u0000')) return { ok: false, refusal: new SqlRefusal('invalid_request', 'the statement holds a NUL character'), kind: 'unknown', parsed: false };
  let raws: readonly RawStatement[];
  try {
    raws = parseStatements(sql);
  } catch (error) {
    if (error instanceof SqlRefusal) return { ok: false, refusal: error, kind: 'unknown', parsed: false };
    throw error;
  }
  const bytes = raws.length === 1 ? undefined : Buffer.from(sql, 'utf8');
  const statements: AnalyzedStatement[] = [];
  for (const raw of raws) {
    const context = newContext();
    try {
      const shape = walkStatement(raw.stmt, context);
      const text = bytes === undefined ? sql : statementText(bytes, raw);
      statements.push({
        kind: shape.kind,
        fingerprint: fingerprintOf(text),
        uses: dedupe(context.findings.uses),
        functions: [...new Set(context.findings.functions)],
        ...(shape.transaction !== undefined && { transaction: shape.transaction }),
      });
    } catch (error) {
      if (error instanceof SqlRefusal) return { ok: false, refusal: error, kind: kindOf(raw.stmt), parsed: true };
      // The walk recurses with the tree; a tree deeper than the stack is refused, not a crash.
      if (error instanceof RangeError) return { ok: false, refusal: new SqlRefusal('invalid_request', 'the statement is nested too deeply'), kind: kindOf(raw.stmt), parsed: true };
      throw error;
    }
  }
  return { ok: true, statements };
}

function dedupe<T extends { action: string; schema: string; table: string }>(uses: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const item of uses) seen.set(`${item.action}\u0000${item.schema}\u0000${item.table}`, item);
  return [...seen.values()];
}
