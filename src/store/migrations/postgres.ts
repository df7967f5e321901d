import type { Migration } from './migration.js';

// Ids use the "C" collation so keyset pagination compares them byte by byte,
// as SQLite does, whatever the database's default collation.
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE meta (
  key text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE environments (
  name text PRIMARY KEY,
  max_ttl_ms bigint NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE services (
  name text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('http', 'postgres', 'mcp')),
  bindings jsonb NOT NULL,
  token_header text,
  max_body_bytes bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE roles (
  name text PRIMARY KEY,
  description text NOT NULL,
  permissions jsonb NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE tokens (
  id text COLLATE "C" PRIMARY KEY,
  hash text NOT NULL UNIQUE,
  hint text NOT NULL,
  name text NOT NULL,
  env text NOT NULL REFERENCES environments (name),
  owner text NOT NULL,
  roles jsonb NOT NULL,
  permissions jsonb NOT NULL,
  expires_at bigint NOT NULL,
  not_before bigint,
  cidrs jsonb NOT NULL,
  rate_count bigint,
  rate_period_ms bigint,
  max_uses bigint,
  status text NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
  parent_id text COLLATE "C" REFERENCES tokens (id),
  honey boolean NOT NULL,
  metadata jsonb NOT NULL,
  created_at bigint NOT NULL,
  created_by text NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX tokens_parent_id ON tokens (parent_id);
CREATE INDEX tokens_created ON tokens (created_at, id);
CREATE INDEX tokens_env_created ON tokens (env, created_at, id);
CREATE INDEX tokens_roles ON tokens USING gin (roles jsonb_path_ops);

-- detail is text, not jsonb: jsonb would reorder keys and normalize numbers,
-- and the chain hash is verified against exactly what was written.
CREATE TABLE audit_events (
  seq bigint PRIMARY KEY,
  time bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('decision', 'admin')),
  token_id text,
  service text,
  decision text,
  reason text,
  detail text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_token ON audit_events (token_id, seq);

CREATE FUNCTION latchkey_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION latchkey_append_only();

CREATE TABLE audit_checkpoints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL,
  time bigint NOT NULL,
  signature text NOT NULL,
  key_id text NOT NULL
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION latchkey_append_only();
`,
  },
  {
    version: 2,
    name: 'service path matching and header underscores',
    // Existing services keep today's behaviour for paths; header names with _ are dropped from now on (issue 8).
    sql: `
ALTER TABLE services ADD COLUMN paths text NOT NULL DEFAULT 'exact' CHECK (paths IN ('exact', 'case-insensitive', 'lenient'));
ALTER TABLE services ADD COLUMN header_underscores text NOT NULL DEFAULT 'drop' CHECK (header_underscores IN ('drop', 'refuse', 'allow'));
`,
  },
  {
    version: 3,
    name: 'service function allow-list (postgres) and hidden tools (mcp)',
    sql: `
ALTER TABLE services ADD COLUMN sql_functions jsonb NOT NULL DEFAULT '[]';
ALTER TABLE services ADD COLUMN hidden_tools jsonb NOT NULL DEFAULT '[]';
`,
  },
  {
    version: 4,
    name: 'token lifecycle: rotation links, scheduler notices, usage per permission',
    sql: `
CREATE TABLE token_links (
  token_id text COLLATE "C" PRIMARY KEY REFERENCES tokens (id),
  predecessor_id text,
  successor_id text,
  grace_until bigint
);
CREATE INDEX token_links_grace ON token_links (grace_until);
CREATE TABLE token_notices (
  token_id text COLLATE "C" NOT NULL REFERENCES tokens (id),
  kind text NOT NULL,
  time bigint NOT NULL,
  PRIMARY KEY (token_id, kind)
);
CREATE TABLE token_usage (
  token_id text COLLATE "C" NOT NULL,
  permission text NOT NULL,
  count bigint NOT NULL,
  last_used bigint NOT NULL,
  PRIMARY KEY (token_id, permission)
);
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
  token_id text COLLATE "C" NOT NULL,
  permission text NOT NULL,
  service text NOT NULL,
  action text NOT NULL,
  resource text NOT NULL,
  day bigint NOT NULL,
  PRIMARY KEY (token_id, permission, service, action, resource, day)
);
CREATE TABLE token_usage_overflows (
  token_id text COLLATE "C" NOT NULL,
  permission text NOT NULL,
  day bigint NOT NULL,
  PRIMARY KEY (token_id, permission, day)
);
`,
  },
];
