// The lifecycle statements both stores run, written once with `?` and turned
// into `$n` for PostgreSQL; only the boolean literal differs between dialects.
import { Conditions, sqliteSpanStart } from './queries.js';
import type { DueRule, RequestWindow, SeenOverflow, SeenRequest, UsageCount, UsageDays, UsageFlush } from './store.js';

export type Dialect = 'sqlite' | 'postgres';

/** `?` → `$1, $2, ...` for PostgreSQL. */
export function forDialect(sql: string, dialect: Dialect): string {
  if (dialect === 'sqlite') return sql;
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export const LINKS = 'SELECT predecessor_id, successor_id, grace_until FROM token_links WHERE token_id = ?';

export const UPSERT_LINK_PREDECESSOR = `INSERT INTO token_links (token_id, predecessor_id, successor_id, grace_until) VALUES (?, NULL, ?, ?)
  ON CONFLICT (token_id) DO UPDATE SET successor_id = excluded.successor_id, grace_until = excluded.grace_until`;
export const INSERT_LINK_SUCCESSOR = 'INSERT INTO token_links (token_id, predecessor_id, successor_id, grace_until) VALUES (?, ?, NULL, NULL)';
export const CLAMP_EXPIRY = 'UPDATE tokens SET expires_at = CASE WHEN expires_at < ? THEN expires_at ELSE ? END, updated_at = ? WHERE id = ?';
export const UPDATE_GRANT = 'UPDATE tokens SET roles = ?, permissions = ?, updated_at = ? WHERE id = ?';
export const UPDATE_CONSTRAINTS = 'UPDATE tokens SET expires_at = ?, cidrs = ?, rate_count = ?, rate_period_ms = ?, max_uses = ?, updated_at = ? WHERE id = ?';
export const INSERT_NOTICE = 'INSERT INTO token_notices (token_id, kind, time) VALUES (?, ?, ?) ON CONFLICT (token_id, kind) DO NOTHING';
export const ADD_USAGE = `INSERT INTO token_usage (token_id, permission, count, last_used) VALUES (?, ?, ?, ?)
  ON CONFLICT (token_id, permission) DO UPDATE SET count = token_usage.count + excluded.count,
  last_used = CASE WHEN token_usage.last_used > excluded.last_used THEN token_usage.last_used ELSE excluded.last_used END`;
export const LIST_USAGE = 'SELECT token_id, permission, count, last_used FROM token_usage ORDER BY token_id, permission';
export const LIST_USAGE_OF = 'SELECT token_id, permission, count, last_used FROM token_usage WHERE token_id = ? ORDER BY permission';
export const ADD_SEEN = `INSERT INTO token_usage_seen (token_id, permission, service, action, resource, day) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT DO NOTHING`;
export const ADD_OVERFLOW = 'INSERT INTO token_usage_overflows (token_id, permission, day) VALUES (?, ?, ?) ON CONFLICT DO NOTHING';
/** PostgreSQL: a flush's rows in one statement per table, as arrays (a round trip per row would make a flush slow). */
export const ADD_SEEN_ROWS = `INSERT INTO token_usage_seen (token_id, permission, service, action, resource, day)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) ON CONFLICT DO NOTHING`;
export const ADD_OVERFLOW_ROWS = `INSERT INTO token_usage_overflows (token_id, permission, day)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING`;

/** The distinct requests of a span of days and the overflowed keys; the day is the last key column, so DISTINCT reads the key in order. */
export function seenQueries(days: UsageDays, dialect: Dialect): { seen: string; overflows: string; values: unknown[] } {
  const byToken = days.tokenId === undefined ? '' : ' AND token_id = ?';
  const where = `WHERE day >= ? AND day <= ?${byToken}`;
  const values: unknown[] = [days.fromDay, days.toDay];
  if (days.tokenId !== undefined) values.push(days.tokenId);
  return {
    seen: forDialect(`SELECT DISTINCT token_id, permission, service, action, resource FROM token_usage_seen ${where}`, dialect),
    overflows: forDialect(`SELECT DISTINCT token_id, permission FROM token_usage_overflows ${where}`, dialect),
    values,
  };
}

/** Sorted by key, so that two nodes flushing at once take the row locks in one order and cannot deadlock. */
export function sortedFlush(flush: UsageFlush): { counts: UsageCount[]; seen: SeenRequest[]; overflows: SeenOverflow[] } {
  const compare = (a: readonly (string | number)[], b: readonly (string | number)[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return 0;
  };
  return {
    counts: [...flush.counts].sort((a, b) => compare([a.tokenId, a.permission], [b.tokenId, b.permission])),
    seen: [...(flush.seen ?? [])].sort((a, b) => compare([a.tokenId, a.permission, a.service, a.action, a.resource, a.day], [b.tokenId, b.permission, b.service, b.action, b.resource, b.day])),
    overflows: [...(flush.overflows ?? [])].sort((a, b) => compare([a.tokenId, a.permission, a.day], [b.tokenId, b.permission, b.day])),
  };
}

/** The query for a scheduler rule and its values; `limit` last. */
export function dueQuery(rule: DueRule, limit: number, dialect: Dialect): { sql: string; values: unknown[] } {
  const notHoney = dialect === 'sqlite' ? 't.honey = 0' : 't.honey = false';
  const unnoticed = (kind: string) => `NOT EXISTS (SELECT 1 FROM token_notices n WHERE n.token_id = t.id AND n.kind = '${kind}')`;
  let sql: string;
  let values: unknown[];
  switch (rule.kind) {
    case 'grace_end':
      sql = `SELECT t.* FROM tokens t JOIN token_links l ON l.token_id = t.id
        WHERE l.grace_until IS NOT NULL AND l.grace_until <= ? AND t.status <> 'revoked' ORDER BY t.id LIMIT ?`;
      values = [rule.now];
      break;
    case 'expiring':
      sql = `SELECT t.* FROM tokens t WHERE t.status = 'active' AND ${notHoney} AND t.expires_at > ? AND t.expires_at <= ?
        AND ${unnoticed('expiring')} ORDER BY t.expires_at, t.id LIMIT ?`;
      values = [rule.now, rule.horizon];
      break;
    case 'expired':
      sql = `SELECT t.* FROM tokens t WHERE t.expires_at <= ? AND t.status <> 'revoked' AND ${notHoney}
        AND ${unnoticed('expired')} ORDER BY t.expires_at, t.id LIMIT ?`;
      values = [rule.now];
      break;
    case 'unused':
      sql = `SELECT t.* FROM tokens t WHERE t.status = 'active' AND ${notHoney} AND t.env = ? AND t.created_at < ? AND t.expires_at > ?
        AND NOT EXISTS (SELECT 1 FROM token_usage u WHERE u.token_id = t.id AND u.last_used >= ?) ORDER BY t.id LIMIT ?`;
      values = [rule.env, rule.since, rule.now, rule.since];
      break;
  }
  return { sql: forDialect(sql, dialect), values: [...values, limit] };
}

/**
 * Allowed decisions of a window, grouped; the fields live in the event's JSON
 * detail. SQLite reads all three in one json_extract (one parse of the detail
 * per event, a JSON array back), which is what keeps 10M events fast, and
 * finds the window's events through its spans, as its audit reads do
 * (queries.ts): the token's, or the time spans from the first that reaches
 * the window, up to `spannedThrough`; sqliteRequestSummaryTailQuery groups
 * the events past it, and the store adds the two up.
 */
export function requestSummaryQuery(window: RequestWindow, dialect: 'postgres'): { sql: string; values: unknown[] };
export function requestSummaryQuery(window: RequestWindow, dialect: 'sqlite', spannedThrough: number): { sql: string; values: unknown[] };
export function requestSummaryQuery(window: RequestWindow, dialect: Dialect, spannedThrough = 0): { sql: string; values: unknown[] } {
  if (dialect === 'sqlite') return sqliteRequestSummaryQuery(window, spannedThrough);
  const byToken = window.tokenId === undefined ? '' : ' AND token_id = ?';
  const where = `FROM audit_events WHERE kind = 'decision' AND decision = 'allow' AND token_id IS NOT NULL AND time >= ? AND time < ?${byToken}`;
  const sql = `SELECT token_id, service, (detail::jsonb)->>'action' AS action, (detail::jsonb)->>'resource' AS resource, (detail::jsonb)->>'matched' AS matched,
      count(*) AS count, max(time) AS last_time ${where} GROUP BY 1, 2, 3, 4, 5`;
  const values: unknown[] = [window.fromTime, window.toTime];
  if (window.tokenId !== undefined) values.push(window.tokenId);
  return { sql: forDialect(sql, dialect), values };
}

/** What SQLite's summary selects and groups by, from events `a`. */
const SQLITE_SUMMARY_FIELDS = "a.token_id, a.service, json_extract(a.detail, '$.action', '$.resource', '$.matched') AS fields, count(*) AS count, max(a.time) AS last_time";

function sqliteRequestSummaryQuery(window: RequestWindow, spannedThrough: number): { sql: string; values: unknown[] } {
  const where = new Conditions('sqlite');
  if (window.tokenId === undefined) sqliteSpanStart(where, window.fromTime, undefined);
  else where.add('s.token_id = ? AND +a.token_id = ?', window.tokenId, window.tokenId);
  where.add('s.first_seq <= ?', spannedThrough);
  where.add('a.seq BETWEEN s.first_seq AND s.last_seq AND a.seq <= ?', spannedThrough);
  // `+`: no automatic index over the whole table in place of the walk (see queries.ts addColumnFilters).
  where.add('s.max_time >= ? AND s.min_time < ? AND +a.time >= ? AND +a.time < ?', window.fromTime, window.toTime, window.fromTime, window.toTime);
  where.add("+a.kind = 'decision' AND +a.decision = 'allow' AND +a.token_id IS NOT NULL");
  const spans = window.tokenId === undefined ? 'audit_spans' : 'audit_token_spans';
  return {
    sql: `SELECT ${SQLITE_SUMMARY_FIELDS} FROM ${spans} s CROSS JOIN audit_events a ${where.where} GROUP BY a.token_id, a.service, fields`,
    values: where.values,
  };
}

/** The same summary over SQLite's newest events, past its spans: a range of the table's key. */
export function sqliteRequestSummaryTailQuery(window: RequestWindow, spannedThrough: number): { sql: string; values: unknown[] } {
  const where = new Conditions('sqlite');
  where.add('a.seq > ?', spannedThrough);
  if (window.tokenId !== undefined) where.add('a.token_id = ?', window.tokenId);
  where.add('a.time >= ? AND a.time < ?', window.fromTime, window.toTime);
  where.add("a.kind = 'decision' AND a.decision = 'allow' AND a.token_id IS NOT NULL");
  return { sql: `SELECT ${SQLITE_SUMMARY_FIELDS} FROM audit_events a ${where.where} GROUP BY a.token_id, a.service, fields`, values: where.values };
}
