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
export class Conditions {
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

/** Whether SQLite reads this filter's events through spans (then its newest events, past the spans, are read by sqliteAuditTailQuery). */
function readsSpans(filter: AuditFilter): boolean {
  return filter.tokenId !== undefined || filter.fromTime !== undefined || filter.toTime !== undefined;
}

/**
 * The read of a filter's events. On SQLite, `spannedThrough` is the last seq
 * its spans cover (see sqlite-store.ts #append): a walk of spans reads only
 * up to there, and sqliteAuditTailQuery reads what comes after.
 */
export function auditReadQuery(filter: AuditFilter, dialect: 'postgres'): Query;
export function auditReadQuery(filter: AuditFilter, dialect: 'sqlite', spannedThrough: number): Query;
export function auditReadQuery(filter: AuditFilter, dialect: Dialect, spannedThrough = 0): Query {
  if (dialect === 'sqlite' && filter.tokenId !== undefined) return sqliteTokenAuditQuery(filter, filter.tokenId, spannedThrough);
  if (dialect === 'sqlite' && readsSpans(filter)) return sqliteTimeAuditQuery(filter, spannedThrough);
  const where = new Conditions(dialect);
  if (filter.kind !== undefined) where.add('kind = ?', filter.kind);
  if (filter.tokenId !== undefined) where.add('token_id = ?', filter.tokenId);
  if (filter.service !== undefined) where.add('service = ?', filter.service);
  if (filter.decision !== undefined) where.add('decision = ?', filter.decision);
  if (filter.reason !== undefined) where.add('reason = ?', filter.reason);
  if (filter.fromTime !== undefined) where.add('time >= ?', filter.fromTime);
  if (filter.toTime !== undefined) where.add('time < ?', filter.toTime);
  if (filter.afterSeq !== undefined) where.add('seq > ?', filter.afterSeq);
  const limitSql = where.placeholders('LIMIT ?', [auditPageLimit(filter)]);
  return { sql: `SELECT * FROM audit_events ${where.where} ORDER BY seq ${limitSql}`, values: where.values };
}

/**
 * The filters that are one column's equality, on the audit table (or, for a
 * walk of spans, `+a.`: the `+` keeps SQLite from building an automatic index
 * over the whole table for the filter, in place of the walk's key ranges).
 */
function addColumnFilters(where: Conditions, filter: AuditFilter, prefix: string): void {
  if (filter.kind !== undefined) where.add(`${prefix}kind = ?`, filter.kind);
  if (filter.service !== undefined) where.add(`${prefix}service = ?`, filter.service);
  if (filter.decision !== undefined) where.add(`${prefix}decision = ?`, filter.decision);
  if (filter.reason !== undefined) where.add(`${prefix}reason = ?`, filter.reason);
}

export function auditPageLimit(filter: AuditFilter): number {
  return Math.max(1, Math.min(Math.floor(filter.limit) || 1, MAX_AUDIT_PAGE));
}

/**
 * One token's events on SQLite, which keeps no index on the token column: its
 * spans (one per run of its events in each group of appends; see migrations
 * 6 and 8, and audit-spans.ts) in order, up to the spans' end, and within
 * each span a range of the table's key. A token's spans never overlap, since each lies inside one
 * group's contiguous seqs, so span order then seq order is seq order and the
 * LIMIT stops the walk (no sort: the CROSS JOIN keeps the spans the outer
 * loop). The walk starts at the span holding afterSeq, if one does, and skips
 * spans wholly outside the time window.
 */
function sqliteTokenAuditQuery(filter: AuditFilter, tokenId: string, spannedThrough: number): Query {
  const where = new Conditions('sqlite');
  where.add('s.token_id = ? AND s.first_seq <= ?', tokenId, spannedThrough);
  where.add('a.seq BETWEEN s.first_seq AND s.last_seq AND a.seq <= ?', spannedThrough);
  where.add('+a.token_id = ?', tokenId);
  if (filter.afterSeq !== undefined) {
    where.add('s.first_seq >= coalesce((SELECT max(first_seq) FROM audit_token_spans WHERE token_id = ? AND first_seq <= ?), ?)', tokenId, filter.afterSeq, filter.afterSeq);
    where.add('a.seq > ?', filter.afterSeq);
  }
  addTimeFilters(where, filter);
  addColumnFilters(where, filter, '+a.');
  const limitSql = where.placeholders('LIMIT ?', [auditPageLimit(filter)]);
  return { sql: `SELECT a.* FROM audit_token_spans s CROSS JOIN audit_events a ${where.where} ORDER BY s.first_seq, a.seq ${limitSql}`, values: where.values };
}

/** A time window on spans `s` (their earliest and latest times) and on their events `a`. */
function addTimeFilters(where: Conditions, filter: { readonly fromTime?: number; readonly toTime?: number }): void {
  if (filter.fromTime !== undefined) where.add('s.max_time >= ? AND +a.time >= ?', filter.fromTime, filter.fromTime);
  if (filter.toTime !== undefined) where.add('s.min_time < ? AND +a.time < ?', filter.toTime, filter.toTime);
}

/** No seq is this high: a walk that must start past every span. */
const PAST_EVERY_SEQ = '9223372036854775807';

/**
 * Where a walk of SQLite's time spans (audit_spans, one per group of appends;
 * see migrations 7 and 8) in seq order may start: at the first span that reaches the
 * window's start (found by the index on max_time), and at the span holding
 * afterSeq. Every span before that ends before the window, or before afterSeq.
 */
export function sqliteSpanStart(where: Conditions, fromTime: number | undefined, afterSeq: number | undefined): void {
  const starts: string[] = [];
  const values: unknown[] = [];
  if (fromTime !== undefined) {
    starts.push(`coalesce((SELECT min(first_seq) FROM audit_spans INDEXED BY audit_spans_max_time WHERE max_time >= ?), ${PAST_EVERY_SEQ})`);
    values.push(fromTime);
  }
  if (afterSeq !== undefined) {
    starts.push('coalesce((SELECT max(first_seq) FROM audit_spans WHERE first_seq <= ?), ?)');
    values.push(afterSeq, afterSeq);
  }
  if (starts.length === 0) return;
  where.add(`s.first_seq >= ${starts.length === 1 ? starts[0] : `max(${starts.join(', ')})`}`, ...values);
}

/**
 * The events of a time window on SQLite, which keeps no index on the time
 * column: the spans that reach into the window, from the first that reaches
 * its start, up to the spans' end, and within each span a range of the
 * table's key. Spans never overlap (each is one group's seqs), so the walk is
 * in seq order and the LIMIT stops it, as for a token's spans.
 */
function sqliteTimeAuditQuery(filter: AuditFilter, spannedThrough: number): Query {
  const where = new Conditions('sqlite');
  sqliteSpanStart(where, filter.fromTime, filter.afterSeq);
  where.add('s.first_seq <= ?', spannedThrough);
  where.add('a.seq BETWEEN s.first_seq AND s.last_seq AND a.seq <= ?', spannedThrough);
  if (filter.afterSeq !== undefined) where.add('a.seq > ?', filter.afterSeq);
  addTimeFilters(where, filter);
  addColumnFilters(where, filter, '+a.');
  const limitSql = where.placeholders('LIMIT ?', [auditPageLimit(filter)]);
  return { sql: `SELECT a.* FROM audit_spans s CROSS JOIN audit_events a ${where.where} ORDER BY s.first_seq, a.seq ${limitSql}`, values: where.values };
}

/**
 * The newest events of a filter that SQLite reads through spans: those past
 * the last span (at most a group of appends; see sqlite-store.ts #append),
 * read straight from a range of the table's key. Null when the filter reads no spans.
 */
export function sqliteAuditTailQuery(filter: AuditFilter, spannedThrough: number): Query | null {
  if (!readsSpans(filter)) return null;
  const where = new Conditions('sqlite');
  where.add('seq > ?', Math.max(spannedThrough, filter.afterSeq ?? 0));
  if (filter.tokenId !== undefined) where.add('token_id = ?', filter.tokenId);
  if (filter.fromTime !== undefined) where.add('time >= ?', filter.fromTime);
  if (filter.toTime !== undefined) where.add('time < ?', filter.toTime);
  addColumnFilters(where, filter, '');
  const limitSql = where.placeholders('LIMIT ?', [auditPageLimit(filter)]);
  return { sql: `SELECT * FROM audit_events ${where.where} ORDER BY seq ${limitSql}`, values: where.values };
}
