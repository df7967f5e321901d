// The two queries whose shape depends on the filter: token lists and audit reads.
// Built here once for both dialects; only a few conditions differ between them.
import { decodeCursor, pageLimit } from './token-cursor.js';
import type { AuditFilter, TokenFilter } from './store.js';

export type Dialect = 'sqlite' | 'postgres';

/** The most audit events one read returns; readers page on with `afterSeq`. */
export const MAX_AUDIT_PAGE = 10_000;

export interface Query {
  readonly sql: string;
  readonly values: unknown[];
}

/** AND-ed conditions written with `?` placeholders, numbered `$n` for PostgreSQL. */
class Conditions {
  readonly #clauses: string[] = [];
  readonly values: unknown[] = [];

  constructor(private readonly dialect: Dialect) {}

  add(sql: string, ...values: unknown[]): void {
    this.#clauses.push(this.placeholders(sql, values));
  }

  placeholders(sql: string, values: readonly unknown[]): string {
    let text = sql;
    if (this.dialect === 'postgres') {
      let n = this.values.length;
      text = sql.replace(/\?/g, () => `$${++n}`);
    }
    this.values.push(...values);
    return text;
  }

  get where(): string {
    return this.#clauses.length === 0 ? '' : `WHERE ${this.#clauses.join(' AND ')}`;
  }
}

/** Asks for one row more than the page so the caller knows whether another page follows. */
export function tokenListQuery(filter: TokenFilter, dialect: Dialect): Query & { readonly limit: number } {
  const sqlite = dialect === 'sqlite';
  const where = new Conditions(dialect);
  if (filter.env !== undefined) where.add('env = ?', filter.env);
  if (filter.status !== undefined) where.add('status = ?', filter.status);
  if (filter.owner !== undefined) where.add('owner = ?', filter.owner);
  if (filter.parentId !== undefined) where.add('parent_id = ?', filter.parentId);
  if (filter.role !== undefined) {
    where.add(
      sqlite ? 'EXISTS (SELECT 1 FROM json_each(tokens.roles) WHERE json_each.value = ?)' : 'roles @> jsonb_build_array(?::text)',
      filter.role,
    );
  }
  if (filter.nameContains !== undefined) {
    where.add(sqlite ? 'instr(lower(name), lower(?)) > 0' : 'strpos(lower(name), lower(?)) > 0', filter.nameContains);
  }
  if (filter.cursor !== undefined) {
    const after = decodeCursor(filter.cursor);
    where.add('(created_at > ? OR (created_at = ? AND id > ?))', after.createdAt, after.createdAt, after.id);
  }
  const limit = pageLimit(filter.limit);
  const limitSql = where.placeholders('LIMIT ?', [limit + 1]);
  return { sql: `SELECT * FROM tokens ${where.where} ORDER BY created_at, id ${limitSql}`, values: where.values, limit };
}

export function auditReadQuery(filter: AuditFilter, dialect: Dialect): Query {
  const where = new Conditions(dialect);
  if (filter.kind !== undefined) where.add('kind = ?', filter.kind);
  if (filter.tokenId !== undefined) where.add('token_id = ?', filter.tokenId);
  if (filter.service !== undefined) where.add('service = ?', filter.service);
  if (filter.decision !== undefined) where.add('decision = ?', filter.decision);
  if (filter.reason !== undefined) where.add('reason = ?', filter.reason);
  if (filter.fromTime !== undefined) where.add('time >= ?', filter.fromTime);
  if (filter.toTime !== undefined) where.add('time < ?', filter.toTime);
  if (filter.afterSeq !== undefined) where.add('seq > ?', filter.afterSeq);
  const limit = Math.max(1, Math.min(Math.floor(filter.limit) || 1, MAX_AUDIT_PAGE));
  const limitSql = where.placeholders('LIMIT ?', [limit]);
  return { sql: `SELECT * FROM audit_events ${where.where} ORDER BY seq ${limitSql}`, values: where.values };
}
