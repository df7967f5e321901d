// What the SQL analyzer tells the PostgreSQL gateway about one query string:
// every table each statement touches and how, every function it calls, and
// the verdict of a token's grant on all of it.

export type SqlAction = 'select' | 'insert' | 'update' | 'delete' | 'truncate' | 'ddl';

export interface TableUse {
  readonly action: SqlAction;
  readonly schema: string;
  readonly table: string;
}

export type TransactionControl = 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback_to';

export interface AnalyzedStatement {
  /** For audit and messages: `select`, `insert`, `begin`, `set`, `ddl`, ... */
  readonly kind: string;
  /** libpg-query's fingerprint of this statement alone: no literal values. */
  readonly fingerprint: string;
  readonly uses: readonly TableUse[];
  /** Functions called, as written once PostgreSQL has folded them: `lower`, `pg_catalog.lower`, `analytics.score`. */
  readonly functions: readonly string[];
  readonly transaction?: TransactionControl;
}

export type SqlRefusalReason = 'permission_denied' | 'invalid_request';

export type SqlVerdict =
  | {
      readonly allowed: true;
      readonly statements: readonly AnalyzedStatement[];
      /** The fingerprint of the whole string. */
      readonly fingerprint: string;
      /** Whether any statement writes (a use other than select). */
      readonly needsWrite: boolean;
    }
  | {
      readonly allowed: false;
      readonly reason: SqlRefusalReason;
      /** Names the statement kind and table: `delete on public.orders is not granted (needs appdb:delete:public.orders)`. */
      readonly detail: string;
      readonly kind: string;
      /** `schema.table` of the use refused, when a table is what was refused. */
      readonly table: string | null;
      /** Null when the string did not parse. */
      readonly fingerprint: string | null;
    };

export interface SqlScope {
  /** Synchronous once loadSqlParser() has resolved; decisions are cached (see scope.ts). */
  authorize(sql: string): SqlVerdict;
}
