import type { Migration } from './migration.js';

// STRICT tables, so a wrong type is an error rather than a silently coerced value.
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE environments (
  name TEXT PRIMARY KEY,
  max_ttl_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE services (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('http', 'postgres', 'mcp')),
  bindings TEXT NOT NULL,
  token_header TEXT,
  max_body_bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE roles (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  permissions TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  hint TEXT NOT NULL,
  name TEXT NOT NULL,
  env TEXT NOT NULL REFERENCES environments (name),
  owner TEXT NOT NULL,
  roles TEXT NOT NULL,
  permissions TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  not_before INTEGER,
  cidrs TEXT NOT NULL,
  rate_count INTEGER,
  rate_period_ms INTEGER,
  max_uses INTEGER,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
  parent_id TEXT REFERENCES tokens (id),
  honey INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_parent_id ON tokens (parent_id);
CREATE INDEX tokens_created ON tokens (created_at, id);
CREATE INDEX tokens_env_created ON tokens (env, created_at, id);

CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('decision', 'admin')),
  token_id TEXT,
  service TEXT,
  decision TEXT,
  reason TEXT,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_token ON audit_events (token_id, seq);
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE audit_checkpoints (
  id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  time INTEGER NOT NULL,
  signature TEXT NOT NULL,
  key_id TEXT NOT NULL
) STRICT;
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
`,
  },
  {
    version: 2,
    name: 'service path matching and header underscores',
    // Existing services keep today's behaviour for paths; header names with _ are dropped from now on (issue 8).
    sql: `
ALTER TABLE services ADD COLUMN paths TEXT NOT NULL DEFAULT 'exact' CHECK (paths IN ('exact', 'case-insensitive', 'lenient'));
ALTER TABLE services ADD COLUMN header_underscores TEXT NOT NULL DEFAULT 'drop' CHECK (header_underscores IN ('drop', 'refuse', 'allow'));
`,
  },
  {
    version: 3,
    name: 'service function allow-list (postgres) and hidden tools (mcp)',
    sql: `
ALTER TABLE services ADD COLUMN sql_functions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE services ADD COLUMN hidden_tools TEXT NOT NULL DEFAULT '[]';
`,
  },
  {
    version: 4,
    name: 'token lifecycle: rotation links, scheduler notices, usage per permission',
    sql: `
CREATE TABLE token_links (
  token_id TEXT PRIMARY KEY REFERENCES tokens (id),
  predecessor_id TEXT,
  successor_id TEXT,
  grace_until INTEGER
) STRICT;
CREATE INDEX token_links_grace ON token_links (grace_until);
CREATE TABLE token_notices (
  token_id TEXT NOT NULL REFERENCES tokens (id),
  kind TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (token_id, kind)
) STRICT;
CREATE TABLE token_usage (
  token_id TEXT NOT NULL,
  permission TEXT NOT NULL,
  count INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  PRIMARY KEY (token_id, permission)
) STRICT;
CREATE INDEX tokens_expires ON tokens (expires_at);
`,
  },
  {
    version: 5,
    name: 'usage rollup: distinct requests per token, permission and day',
    // Written by the usage counter's flush (a node writes each distinct request once a day, at most a bound of
    // them per token and permission, then an overflow row); read by the over-privileged report instead of the
    // audit trail. The key leads with the token so one token's rows, and the distinct rows of a window, are one scan.
    sql: `
CREATE TABLE token_usage_seen (
  token_id TEXT NOT NULL,
  permission TEXT NOT NULL,
  service TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  day INTEGER NOT NULL,
  PRIMARY KEY (token_id, permission, service, action, resource, day)
) STRICT, WITHOUT ROWID;
CREATE TABLE token_usage_overflows (
  token_id TEXT NOT NULL,
  permission TEXT NOT NULL,
  day INTEGER NOT NULL,
  PRIMARY KEY (token_id, permission, day)
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 6,
    name: 'audit events by token: one span per token and append, not one index entry per event',
    // An index on (token_id, seq) takes an entry per event at as many places in its tree as a batch has tokens,
    // which was a third of what a busy gateway's appends cost. A span says "this token's events of one append lie
    // between these seqs (and times)": one row per token per append, and reading a token's events walks its spans
    // in order, each a range of the table's own key (queries.ts sqliteTokenAuditQuery). Existing events get a span each.
    sql: `
CREATE TABLE audit_token_spans (
  token_id TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  min_time INTEGER NOT NULL,
  max_time INTEGER NOT NULL,
  PRIMARY KEY (token_id, first_seq)
) STRICT, WITHOUT ROWID;
INSERT INTO audit_token_spans (token_id, first_seq, last_seq, min_time, max_time)
  SELECT token_id, seq, seq, time, time FROM audit_events WHERE token_id IS NOT NULL;
DROP INDEX audit_events_token;
`,
  },
  {
    version: 7,
    name: 'audit events by time: one span per append, not one index entry per event',
    // The index on time took an entry per event, a fifth of what an append cost. A span says "the events of one
    // append lie between these seqs and these times": one row per append, and a read with a time window walks the
    // spans that reach into the window in seq order, each a range of the table's own key (queries.ts
    // sqliteTimeAuditQuery). The index on max_time finds the first span that reaches the window's start. Existing
    // events get a span per 64 seqs.
    sql: `
CREATE TABLE audit_spans (
  first_seq INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  min_time INTEGER NOT NULL,
  max_time INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_spans_max_time ON audit_spans (max_time);
INSERT INTO audit_spans (first_seq, last_seq, min_time, max_time)
  SELECT min(seq), max(seq), min(time), max(time) FROM audit_events GROUP BY seq / 64;
DROP INDEX audit_events_time;
`,
  },
  {
    version: 8,
    name: 'audit spans: written once per group of appends, so the token spans past a seq are found by seq',
    // Spans are now written once a group of appends has gone without (sqlite-store.ts #append), for every event
    // since the last span, and that write first clears any span past that point; this index finds those token spans.
    sql: `
CREATE INDEX audit_token_spans_first_seq ON audit_token_spans (first_seq);
`,
  },
];
