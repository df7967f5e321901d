// Every fixed statement the SQLite store runs, prepared once when it opens.
import type Database from 'better-sqlite3';
import { AUDIT_COLUMNS, SERVICE_COLUMNS, TOKEN_COLUMNS } from '../rows.js';
import { LIVE_HOLDERS_SQLITE } from '../role-rules.js';
import { TOKEN_SPAN_GAP } from './audit-spans.js';

type Row = Record<string, unknown>;

function insertInto(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
}

/** The last seq SQLite's lookup spans cover: the end of the last time span (0: none; see sqlite-store.ts #append). */
const SPANNED_THROUGH = 'coalesce((SELECT last_seq FROM audit_spans ORDER BY first_seq DESC LIMIT 1), 0)';

export function prepareStatements(db: Database.Database) {
  const prepare = <R = Row>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    getMeta: prepare<{ value: string }>('SELECT value FROM meta WHERE key = ?'),
    initMeta: prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),

    listEnvironments: prepare('SELECT * FROM environments ORDER BY name'),
    getEnvironment: prepare('SELECT * FROM environments WHERE name = ?'),
    insertEnvironment: prepare(
      'INSERT INTO environments (name, max_ttl_ms, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
    ),

    listServices: prepare('SELECT * FROM services ORDER BY name'),
    getService: prepare('SELECT * FROM services WHERE name = ?'),
    insertService: prepare(`${insertInto('services', SERVICE_COLUMNS)} ON CONFLICT (name) DO NOTHING`),
    updateService: prepare(
      'UPDATE services SET kind = ?, bindings = ?, token_header = ?, max_body_bytes = ?, created_at = ?, updated_at = ?, paths = ?, header_underscores = ?, sql_functions = ?, hidden_tools = ? WHERE name = ?',
    ),
    deleteService: prepare('DELETE FROM services WHERE name = ?'),

    listRoles: prepare('SELECT * FROM roles ORDER BY name'),
    getRole: prepare('SELECT * FROM roles WHERE name = ?'),
    insertRole: prepare(
      'INSERT INTO roles (name, description, permissions, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
    ),
    updateRole: prepare('UPDATE roles SET description = ?, permissions = ?, updated_at = ? WHERE name = ?'),
    deleteRole: prepare('DELETE FROM roles WHERE name = ?'),
    liveRoleHolders: prepare<{ n: number }>(LIVE_HOLDERS_SQLITE),

    getToken: prepare('SELECT * FROM tokens WHERE id = ?'),
    findTokenByHash: prepare('SELECT * FROM tokens WHERE hash = ?'),
    // No conflict target: a clash on the id or on the hash both leave the table as it was.
    insertToken: prepare(`${insertInto('tokens', TOKEN_COLUMNS)} ON CONFLICT DO NOTHING`),
    setStatus: prepare<{ id: string }>(
      'UPDATE tokens SET status = ?, updated_at = ? WHERE id = ? AND status <> ? RETURNING id',
    ),
    revokeTree: prepare<{ id: string }>(`
      WITH RECURSIVE tree (id) AS (
        SELECT ?
        UNION
        SELECT tokens.id FROM tokens JOIN tree ON tokens.parent_id = tree.id
      )
      UPDATE tokens SET status = 'revoked', updated_at = ?
      WHERE id IN (SELECT id FROM tree) AND status <> 'revoked'
      RETURNING id`),

    auditHead: prepare<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1'),
    // The head an append links onto, and the last seq the lookup spans cover (0: none).
    appendHead: prepare<{ seq: number; hash: string; spanned: number }>(
      `SELECT seq, hash, ${SPANNED_THROUGH} AS spanned FROM audit_events ORDER BY seq DESC LIMIT 1`,
    ),
    spannedThrough: prepare<{ seq: number }>(`SELECT ${SPANNED_THROUGH} AS seq`),
    insertAudit: prepare(insertInto('audit_events', AUDIT_COLUMNS)),
    // Spans for the events after a seq (see audit-spans.ts). Any span already past that seq is none of an append's
    // (an intruder's, or left by one): it goes first, so that no two spans overlap.
    clearSpansAfter: prepare('DELETE FROM audit_spans WHERE first_seq > ?'),
    clearTokenSpansAfter: prepare('DELETE FROM audit_token_spans INDEXED BY audit_token_spans_first_seq WHERE first_seq > ?'),
    insertSpan: prepare('INSERT INTO audit_spans (first_seq, last_seq, min_time, max_time) VALUES (?, ?, ?, ?)'),
    insertTokenSpan: prepare('INSERT INTO audit_token_spans (token_id, first_seq, last_seq, min_time, max_time) VALUES (?, ?, ?, ?, ?)'),
    // The same from the events themselves, for events this process did not append (another's, or before a restart).
    insertSpans: prepare(`INSERT INTO audit_spans (first_seq, last_seq, min_time, max_time)
      SELECT min(seq), max(seq), min(time), max(time) FROM audit_events WHERE seq > ? HAVING count(*) > 0`),
    // A token's run breaks where its event is more than TOKEN_SPAN_GAP seqs after its previous one.
    insertTokenSpans: prepare(`INSERT INTO audit_token_spans (token_id, first_seq, last_seq, min_time, max_time)
      SELECT token_id, min(seq), max(seq), min(time), max(time) FROM (
        SELECT token_id, seq, time, sum(breaks) OVER (PARTITION BY token_id ORDER BY seq) AS run FROM (
          SELECT token_id, seq, time, coalesce(seq - lag(seq) OVER (PARTITION BY token_id ORDER BY seq) > ${TOKEN_SPAN_GAP}, 1) AS breaks
          FROM audit_events WHERE seq > ? AND token_id IS NOT NULL))
      GROUP BY token_id, run`),
    // An event up to the given seq (the spans' end) that its span does not cover: the last span starting at or
    // before it must reach its seq and its time. Events past the spans' end are read without them.
    timeLookupGap: prepare<{ seq: number }>(`SELECT a.seq FROM audit_events a WHERE a.seq <= ? AND NOT EXISTS (
        SELECT 1 FROM audit_spans s WHERE s.first_seq = (SELECT max(first_seq) FROM audit_spans WHERE first_seq <= a.seq)
          AND s.last_seq >= a.seq AND s.min_time <= a.time AND s.max_time >= a.time)
      ORDER BY a.seq LIMIT 1`),
    // The same for an event with a token, among its token's spans.
    tokenLookupGap: prepare<{ seq: number }>(`SELECT a.seq FROM audit_events a WHERE a.seq <= ? AND a.token_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM audit_token_spans s WHERE s.token_id = a.token_id
          AND s.first_seq = (SELECT max(first_seq) FROM audit_token_spans WHERE token_id = a.token_id AND first_seq <= a.seq)
          AND s.last_seq >= a.seq AND s.min_time <= a.time AND s.max_time >= a.time)
      ORDER BY a.seq LIMIT 1`),
    // Spans wholly before the oldest event left: none of their events remains.
    pruneTokenSpans: prepare('DELETE FROM audit_token_spans WHERE last_seq < (SELECT min(seq) FROM audit_events)'),
    pruneSpans: prepare('DELETE FROM audit_spans WHERE last_seq < (SELECT min(seq) FROM audit_events)'),
    // The newest event is never pruned: it is the head the next append links to.
    pruneAudit: prepare('DELETE FROM audit_events WHERE seq < ? AND seq < (SELECT max(seq) FROM audit_events)'),
    insertCheckpoint: prepare('INSERT INTO audit_checkpoints (seq, hash, time, signature, key_id) VALUES (?, ?, ?, ?, ?)'),
    listCheckpoints: prepare('SELECT * FROM audit_checkpoints ORDER BY seq DESC, id DESC LIMIT ?'),
  };
}

export type SqliteStatements = ReturnType<typeof prepareStatements>;
