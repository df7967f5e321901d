// PostgreSQL's own parser (libpg-query, compiled to WebAssembly: no native build).
// The module loads asynchronously once; after that every call is synchronous.
//
// The parser is PostgreSQL 18's. It accepts everything older servers accept and
// more; the walker refuses the newer constructs an older server would read as a
// call to a function of the same name (the SQL/JSON family), so a version gap
// never turns into a call the gateway did not see.

import { fingerprintSync, loadModule, normalizeSync, parseSync } from 'libpg-query';
import { SqlRefusal } from './refusal.js';

let loaded: Promise<void> | undefined;
let ready = false;

export function loadSqlParser(): Promise<void> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  return loaded;
}

function assertReady(): void {
  if (!ready) throw new Error('the SQL parser is not loaded: await loadSqlParser() first');
}

export interface RawStatement {
  readonly stmt: Record<string, unknown>;
  /** Offsets into the UTF-8 bytes of the string, as libpg_query reports them. */
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

/** The statements of a string, or a refusal when PostgreSQL's grammar rejects it. */
export function parseStatements(sql: string): readonly RawStatement[] {
  assertReady();
  try {
    const tree = parseSync(sql) as { stmts?: RawStatement[] };
    return tree.stmts ?? [];
  } catch (error) {
    throw new SqlRefusal('invalid_request', `the statement does not parse: ${messageOf(error)}`);
  }
}

/** The fingerprint: the statement's shape without its literal values (and, see scope.ts, without some names). */
export function fingerprintOf(sql: string): string {
  assertReady();
  return fingerprintSync(sql);
}

/** The text with each literal replaced by `$n`, everything else as written; undefined when it does not parse. */
export function normalized(sql: string): string | undefined {
  assertReady();
  try {
    return normalizeSync(sql);
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
