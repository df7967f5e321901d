// The shared store: a pg Pool on one database that many Latchkey processes use
// at once. Each mutation commits together with its audit event and a NOTIFY on
// CHANGE_CHANNEL, so other processes hear of it exactly when it takes effect.
import type pg from 'pg';
import type { AuditEvent, AuditEventInput } from '../../audit/event.js';
import { notFound } from '../../errors/index.js';
import { adminEvent, tokenForAudit, type Mutation, type AdminChange } from '../admin-event.js';
import { ChangeFeed, changePayloads } from '../change-feed.js';
import { auditReadQuery, tokenListQuery } from '../queries.js';
import type { Actor, Environment, Role, Service, TokenRecord, TokenStatus } from '../records.js';
import * as rows from '../rows.js';
import { checkRoleChange, checkRolesUnchanged, LIVE_HOLDERS_POSTGRES, refuseWhileHeld, type RoleChangeGuard, type RoleSnapshot } from '../role-rules.js';
import {
  CHANGE_CHANNEL,
  type AuditCheckpoint,
  type AuditFilter,
  type AuditHead,
  type Change,
  type Page,
  type Store,
  type TokenFilter,
  type TokenStatusChange,
  type DueRule,
  type TokenLinks,
  type TokenNoticeKind,
  type UsageCount,
  type UsageDays,
  type UsageFlush,
  type SeenInDays,
  type RequestSummary,
  type RequestWindow,
} from '../store.js';
import * as sql from '../lifecycle-sql.js';
import { checkNarrow, checkRotation, constraintsEvent, constraintValues, narrowEvent, rotationEvent, type TokenConstraints } from '../token-lifecycle.js';
import { encodeCursor } from '../token-cursor.js';
import { alreadyExists, checkStatusChange, orderChangedIds, statusChangeEvent } from '../token-status.js';
import { appendEvents, auditHeadOf } from './postgres-audit.js';
import { migratePostgres } from './postgres-migrate.js';
import { createPool, inTransaction, query, storeError } from './postgres-pool.js';
import { lockParent, REVOKE_TREE, SET_STATUS } from './postgres-tokens.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database`; `?options=-c search_path=...` selects a schema. */
  readonly url: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Clock for audit times and status changes; tests freeze it. */
  readonly now?: () => number;
}

type Row = Record<string, unknown>;

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const now = options.now ?? Date.now;
  const pool = createPool(options.url, options.poolSize ?? 10);
  try {
    await migratePostgres(pool, now());
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return new PostgresStore(pool, now);
}

const INSERT_SERVICE = `INSERT INTO services (${rows.SERVICE_COLUMNS.join(', ')}) VALUES (${rows.SERVICE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (name) DO NOTHING`;
const INSERT_TOKEN = `INSERT INTO tokens (${rows.TOKEN_COLUMNS.join(', ')})
  VALUES (${rows.TOKEN_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`;

/** Rollup rows per INSERT ... SELECT FROM unnest: a flush of any size is a few statements. */
const ROLLUP_CHUNK = 5000;

class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #feed = new ChangeFeed();

  constructor(pool: pg.Pool, now: () => number) {
    this.#pool = pool;
    this.#now = now;
  }

  async migrate(): Promise<void> {
    await migratePostgres(this.#pool, this.#now());
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  async ping(): Promise<void> {
    await query(this.#pool, { text: 'SELECT 1' });
  }

  onChange(listener: (change: Change) => void): () => void {
    return this.#feed.subscribe(listener);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const found = await query<{ value: string }>(this.#pool, { text: 'SELECT value FROM meta WHERE key = $1', values: [key] });
    return found[0]?.value;
  }

  async initMeta(key: string, value: string): Promise<string> {
    const inserted = await query<{ value: string }>(this.#pool, {
      text: 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value',
      values: [key, value],
    });
    if (inserted[0] !== undefined) return inserted[0].value;
    // A separate statement: the insert that lost a race waited for the winner to
    // commit, but only a new statement's snapshot sees the winner's row.
    const existing = await this.getMeta(key);
    if (existing === undefined) throw new Error(`meta ${key} was neither inserted nor found`);
    return existing;
  }

  async listEnvironments(): Promise<Environment[]> {
    return (await query(this.#pool, { text: 'SELECT * FROM environments ORDER BY name' })).map(rows.environmentFromRow);
  }

  async getEnvironment(name: string): Promise<Environment | undefined> {
    return this.#one('SELECT * FROM environments WHERE name = $1', [name], rows.environmentFromRow);
  }

  async createEnvironment(env: Environment, actor: Actor): Promise<void> {
    await this.#mutate(async (client) => {
      const inserted = await client.query(
        'INSERT INTO environments (name, max_ttl_ms, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
        [env.name, env.maxTtlMs, env.createdAt],
      );
      if (inserted.rowCount === 0) throw alreadyExists(`environment ${env.name}`);
      const audit = this.#adminEvent(actor, { action: 'environment.create', target: env.name, before: null, after: env });
      return { result: undefined, change: { type: 'environment', name: env.name }, audit };
    });
  }

  async listServices(): Promise<Service[]> {
    return (await query(this.#pool, { text: 'SELECT * FROM services ORDER BY name' })).map(rows.serviceFromRow);
  }

  async getService(name: string): Promise<Service | undefined> {
    return this.#one('SELECT * FROM services WHERE name = $1', [name], rows.serviceFromRow);
  }

  async createService(service: Service, actor: Actor): Promise<void> {
    await this.#mutate(async (client) => {
      const inserted = await client.query(INSERT_SERVICE, rows.serviceValues(service));
      if (inserted.rowCount === 0) throw alreadyExists(`service ${service.name}`);
      const audit = this.#adminEvent(actor, { action: 'service.create', target: service.name, before: null, after: service });
      return { result: undefined, change: { type: 'service', name: service.name }, audit };
    });
  }

  async updateService(service: Service, actor: Actor): Promise<void> {
    await this.#mutate(async (client) => {
      const found = await client.query('SELECT * FROM services WHERE name = $1 FOR UPDATE', [service.name]);
      if (found.rows[0] === undefined) throw notFound(`service ${service.name}`);
      await client.query(
        `UPDATE services SET kind = $2, bindings = $3, token_header = $4, max_body_bytes = $5, created_at = $6, updated_at = $7,
          paths = $8, header_underscores = $9, sql_functions = $10, hidden_tools = $11 WHERE name = $1`,
        rows.serviceValues(service),
      );
      const before = rows.serviceFromRow(found.rows[0]);
      const audit = this.#adminEvent(actor, { action: 'service.update', target: service.name, before, after: service });
      return { result: undefined, change: { type: 'service', name: service.name }, audit };
    });
  }

  async removeService(name: string, actor: Actor): Promise<void> {
    await this.#mutate(async (client) => {
      const removed = await client.query('DELETE FROM services WHERE name = $1 RETURNING *', [name]);
      if (removed.rows[0] === undefined) throw notFound(`service ${name}`);
      const before = rows.serviceFromRow(removed.rows[0]);
      const audit = this.#adminEvent(actor, { action: 'service.remove', target: name, before, after: null });
      return { result: undefined, change: { type: 'service', name }, audit };
    });
  }

  async listRoles(): Promise<Role[]> {
    return (await query(this.#pool, { text: 'SELECT * FROM roles ORDER BY name' })).map(rows.roleFromRow);
  }

  async getRole(name: string): Promise<Role | undefined> {
    return this.#one('SELECT * FROM roles WHERE name = $1', [name], rows.roleFromRow);
  }

  async createRole(role: Role, actor: Actor): Promise<void> {
    await this.#mutate(async (client) => {
      const inserted = await client.query(
        `INSERT INTO roles (name, description, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (name) DO NOTHING`,
        [role.name, role.description, JSON.stringify(role.permissions), role.createdAt, role.updatedAt],
      );
      if (inserted.rowCount === 0) throw alreadyExists(`role ${role.name}`);
      const audit = this.#adminEvent(actor, { action: 'role.create', target: role.name, before: null, after: role });
      return { result: undefined, change: { type: 'role', name: role.name }, audit };
    });
  }

  async updateRole(role: Role, actor: Actor, guard: RoleChangeGuard): Promise<void> {
    await this.#mutate(async (client) => {
      // The row lock orders this change against a mint holding the role FOR SHARE: whichever
      // commits second sees the first (the holder count, or the changed permissions).
      const before = await this.#lockRole(client, role.name);
      const holders = guard.widens ? await this.#liveHolders(client, role.name) : 0;
      checkRoleChange(before, guard, () => holders);
      await client.query('UPDATE roles SET description = $1, permissions = $2, updated_at = $3 WHERE name = $4', [
        role.description, JSON.stringify(role.permissions), role.updatedAt, role.name,
      ]);
      const after = { ...role, createdAt: before.createdAt };
      const audit = this.#adminEvent(actor, { action: 'role.update', target: role.name, before, after });
      return { result: undefined, change: { type: 'role', name: role.name }, audit };
    });
  }

  async deleteRole(name: string, actor: Actor): Promise<void> {
    await this.#mutate(async (client) => {
      const before = await this.#lockRole(client, name);
      refuseWhileHeld(name, await this.#liveHolders(client, name), 'deleted');
      await client.query('DELETE FROM roles WHERE name = $1', [name]);
      const audit = this.#adminEvent(actor, { action: 'role.delete', target: name, before, after: null });
      return { result: undefined, change: { type: 'role', name }, audit };
    });
  }

  async createToken(token: TokenRecord, actor: Actor, checkedRoles?: readonly RoleSnapshot[]): Promise<void> {
    await this.#mutate(async (client) => {
      await checkRoles(client, token, checkedRoles);
      if (token.parentId !== null) await lockParent(client, token.parentId);
      const inserted = await client.query(INSERT_TOKEN, rows.tokenValues(token));
      if (inserted.rowCount === 0) throw alreadyExists(`token ${token.id} or its hash`);
      const after = tokenForAudit(token);
      const audit = this.#adminEvent(actor, { action: 'token.create', target: token.id, before: null, after });
      return { result: undefined, change: { type: 'token', ids: [token.id] }, audit };
    });
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    return this.#one('SELECT * FROM tokens WHERE id = $1', [id], rows.tokenFromRow, 'latchkey_get_token');
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return this.#one('SELECT * FROM tokens WHERE hash = $1', [hash], rows.tokenFromRow, 'latchkey_find_token_by_hash');
  }

  async listTokens(filter: TokenFilter): Promise<Page<TokenRecord>> {
    const list = tokenListQuery(filter, 'postgres');
    const found = (await query(this.#pool, { text: list.sql, values: list.values })).map(rows.tokenFromRow);
    const items = found.slice(0, list.limit);
    const last = items.at(-1);
    const more = found.length > list.limit && last !== undefined;
    return { items, nextCursor: more ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
  }

  async setTokenStatus(id: string, status: TokenStatus, actor: Actor): Promise<TokenStatusChange> {
    return this.#mutate(async (client) => {
      const found = await client.query('SELECT * FROM tokens WHERE id = $1 FOR UPDATE', [id]);
      const token = checkStatusChange(id, found.rows[0] && rows.tokenFromRow(found.rows[0]), status);
      const time = this.#now();
      const changed =
        status === 'revoked'
          ? await client.query<{ id: string }>(REVOKE_TREE, [id, time])
          : await client.query<{ id: string }>(SET_STATUS, [id, status, time]);
      const ids = orderChangedIds(id, changed.rows.map((row) => row.id));
      if (ids.length === 0) return { result: { ids, status }, change: null, audit: null };
      const audit = statusChangeEvent(actor, token, status, ids, time);
      return { result: { ids, status }, change: { type: 'token', ids }, audit };
    });
  }

  async rotateToken(predecessorId: string, successor: TokenRecord, graceUntil: number, actor: Actor, checkedRoles?: readonly RoleSnapshot[]): Promise<TokenStatusChange> {
    return this.#mutate(async (client) => {
      const found = await client.query('SELECT * FROM tokens WHERE id = $1 FOR UPDATE', [predecessorId]);
      const links = await client.query(sql.forDialect(sql.LINKS, 'postgres'), [predecessorId]);
      const predecessor = checkRotation(predecessorId, found.rows[0] && rows.tokenFromRow(found.rows[0]), rows.linksFromRow(links.rows[0]).successorId);
      await checkRoles(client, successor, checkedRoles);
      if (successor.parentId !== null) await lockParent(client, successor.parentId);
      const inserted = await client.query(INSERT_TOKEN, rows.tokenValues(successor));
      if (inserted.rowCount === 0) throw alreadyExists(`token ${successor.id} or its hash`);
      const time = this.#now();
      await client.query(sql.forDialect(sql.UPSERT_LINK_PREDECESSOR, 'postgres'), [predecessorId, successor.id, graceUntil]);
      await client.query(sql.forDialect(sql.INSERT_LINK_SUCCESSOR, 'postgres'), [successor.id, predecessorId]);
      await client.query(sql.forDialect(sql.CLAMP_EXPIRY, 'postgres'), [graceUntil, graceUntil, time, predecessorId]);
      const revoked = graceUntil <= time ? orderChangedIds(predecessorId, (await client.query<{ id: string }>(REVOKE_TREE, [predecessorId, time])).rows.map((row) => row.id)) : [];
      const audit = rotationEvent(actor, predecessor, successor, graceUntil, revoked, time);
      return { result: { ids: revoked, status: 'revoked' as const }, change: { type: 'token', ids: [predecessorId, successor.id, ...revoked.filter((id) => id !== predecessorId)] }, audit };
    });
  }

  async tokenLinks(id: string): Promise<TokenLinks> {
    return rows.linksFromRow((await query(this.#pool, { text: sql.forDialect(sql.LINKS, 'postgres'), values: [id] }))[0]);
  }

  async updateTokenGrant(id: string, grant: { readonly roles: readonly string[]; readonly permissions: readonly string[] }, actor: Actor): Promise<TokenRecord> {
    return this.#mutate(async (client) => {
      const found = await client.query('SELECT * FROM tokens WHERE id = $1 FOR UPDATE', [id]);
      const before = checkNarrow(id, found.rows[0] && rows.tokenFromRow(found.rows[0]));
      const time = this.#now();
      await client.query(sql.forDialect(sql.UPDATE_GRANT, 'postgres'), [JSON.stringify(grant.roles), JSON.stringify(grant.permissions), time, id]);
      const after: TokenRecord = { ...before, roles: [...grant.roles], permissions: [...grant.permissions], updatedAt: time };
      return { result: after, change: { type: 'token', ids: [id] }, audit: narrowEvent(actor, before, after, time) };
    });
  }

  async updateTokenConstraints(id: string, constraints: TokenConstraints, actor: Actor): Promise<TokenRecord> {
    return this.#mutate(async (client) => {
      const found = await client.query('SELECT * FROM tokens WHERE id = $1 FOR UPDATE', [id]);
      const before = checkNarrow(id, found.rows[0] && rows.tokenFromRow(found.rows[0]));
      const time = this.#now();
      await client.query(sql.forDialect(sql.UPDATE_CONSTRAINTS, 'postgres'), constraintValues(constraints, time, id));
      const after: TokenRecord = { ...before, ...constraints, updatedAt: time };
      return { result: after, change: { type: 'token', ids: [id] }, audit: constraintsEvent(actor, before, after, time) };
    });
  }

  async dueTokens(rule: DueRule, limit: number): Promise<TokenRecord[]> {
    const due = sql.dueQuery(rule, limit, 'postgres');
    return (await query(this.#pool, { text: due.sql, values: due.values })).map(rows.tokenFromRow);
  }

  async noteToken(id: string, kind: TokenNoticeKind, actor: Actor, detail: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.#mutate(async (client) => {
      const time = this.#now();
      const inserted = await client.query(sql.forDialect(sql.INSERT_NOTICE, 'postgres'), [id, kind, time]);
      if (inserted.rowCount === 0) return { result: false, change: null, audit: null };
      return { result: true, change: null, audit: this.#adminEvent(actor, { action: `token.${kind}`, target: id, before: null, after: detail }) };
    });
  }

  async addUsage(counts: readonly UsageCount[]): Promise<void> {
    return this.addUsageFlush({ counts });
  }

  async addUsageFlush(flush: UsageFlush): Promise<void> {
    // Sorted, so that two nodes flushing at once take the row locks in one order and cannot deadlock.
    const { counts, seen, overflows } = sql.sortedFlush(flush);
    if (counts.length === 0 && seen.length === 0 && overflows.length === 0) return;
    await inTransaction(this.#pool, async (client) => {
      for (const c of counts) await client.query(sql.forDialect(sql.ADD_USAGE, 'postgres'), [c.tokenId, c.permission, c.count, c.lastUsed]);
      for (let i = 0; i < seen.length; i += ROLLUP_CHUNK) {
        const chunk = seen.slice(i, i + ROLLUP_CHUNK);
        await client.query(sql.ADD_SEEN_ROWS, [
          chunk.map((r) => r.tokenId), chunk.map((r) => r.permission), chunk.map((r) => r.service),
          chunk.map((r) => r.action), chunk.map((r) => r.resource), chunk.map((r) => r.day),
        ]);
      }
      for (let i = 0; i < overflows.length; i += ROLLUP_CHUNK) {
        const chunk = overflows.slice(i, i + ROLLUP_CHUNK);
        await client.query(sql.ADD_OVERFLOW_ROWS, [chunk.map((o) => o.tokenId), chunk.map((o) => o.permission), chunk.map((o) => o.day)]);
      }
    });
  }

  async listSeenRequests(days: UsageDays): Promise<SeenInDays> {
    const seen = sql.seenQueries(days, 'postgres');
    const [requests, overflows] = await Promise.all([
      query(this.#pool, { text: seen.seen, values: seen.values }),
      query(this.#pool, { text: seen.overflows, values: seen.values }),
    ]);
    return { requests: requests.map(rows.seenFromRow), overflows: overflows.map(rows.overflowFromRow) };
  }

  async listUsage(tokenId?: string): Promise<UsageCount[]> {
    const found = tokenId === undefined
      ? await query(this.#pool, { text: sql.LIST_USAGE })
      : await query(this.#pool, { text: sql.forDialect(sql.LIST_USAGE_OF, 'postgres'), values: [tokenId] });
    return found.map(rows.usageFromRow);
  }

  async summarizeRequests(window: RequestWindow): Promise<RequestSummary[]> {
    const summary = sql.requestSummaryQuery(window, 'postgres');
    return (await query(this.#pool, { text: summary.sql, values: summary.values })).map(rows.requestSummaryFromRow);
  }

  async appendAudit(events: readonly AuditEventInput[]): Promise<AuditEvent[]> {
    if (events.length === 0) return [];
    return inTransaction(this.#pool, (client) => appendEvents(client, events));
  }

  async readAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    const read = auditReadQuery(filter, 'postgres');
    return (await query(this.#pool, { text: read.sql, values: read.values })).map(rows.auditFromRow);
  }

  async auditHead(): Promise<AuditHead> {
    try {
      return await auditHeadOf(this.#pool);
    } catch (error) {
      throw storeError(error);
    }
  }

  async addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    const { seq, hash, time, signature, keyId } = checkpoint;
    await query(this.#pool, {
      text: 'INSERT INTO audit_checkpoints (seq, hash, time, signature, key_id) VALUES ($1, $2, $3, $4, $5)',
      values: [seq, hash, time, signature, keyId],
    });
  }

  async listCheckpoints(limit: number): Promise<AuditCheckpoint[]> {
    const found = await query(this.#pool, {
      text: 'SELECT * FROM audit_checkpoints ORDER BY seq DESC, id DESC LIMIT $1',
      values: [Math.max(0, Math.floor(limit))],
    });
    return found.map(rows.checkpointFromRow);
  }

  async pruneAudit(beforeSeq: number): Promise<number> {
    // The newest event is never pruned: it is the head the next append links to.
    const pruned = await inTransaction(this.#pool, (client) =>
      client.query('DELETE FROM audit_events WHERE seq < $1 AND seq < (SELECT max(seq) FROM audit_events)', [beforeSeq]),
    );
    return pruned.rowCount ?? 0;
  }

  async #one<T>(text: string, values: unknown[], map: (row: Row) => T, name?: string): Promise<T | undefined> {
    // A named query is prepared once per connection: the token lookups are the hot path.
    const found = await query(this.#pool, name === undefined ? { text, values } : { name, text, values });
    return found[0] === undefined ? undefined : map(found[0]);
  }

  async #lockRole(client: pg.PoolClient, name: string): Promise<Role> {
    const found = await client.query('SELECT * FROM roles WHERE name = $1 FOR UPDATE', [name]);
    if (found.rows[0] === undefined) throw notFound(`role ${name}`);
    return rows.roleFromRow(found.rows[0]);
  }

  async #liveHolders(client: pg.PoolClient, role: string): Promise<number> {
    const found = await client.query<{ n: number }>(LIVE_HOLDERS_POSTGRES, [this.#now(), role]);
    return found.rows[0]?.n ?? 0;
  }

  #adminEvent(actor: Actor, change: AdminChange): AuditEventInput {
    return adminEvent(actor, change, this.#now());
  }

  /**
   * Runs a change, its audit event and its NOTIFY in one transaction; this
   * instance's listeners hear of it only once it has committed.
   */
  async #mutate<T>(work: (client: pg.PoolClient) => Promise<Mutation<T>>): Promise<T> {
    const done = await inTransaction(this.#pool, async (client) => {
      const mutation = await work(client);
      if (mutation.audit !== null) await appendEvents(client, [mutation.audit]);
      if (mutation.change !== null) {
        await client.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
          CHANGE_CHANNEL,
          changePayloads(mutation.change),
        ]);
      }
      return mutation;
    });
    if (done.change !== null) this.#feed.emit(done.change);
    return done.result;
  }
}

/** FOR SHARE: a concurrent change or deletion of these roles waits for this token, then counts it as a holder. */
async function checkRoles(client: pg.PoolClient, token: TokenRecord, checkedRoles: readonly RoleSnapshot[] | undefined): Promise<void> {
  if (checkedRoles === undefined || token.roles.length === 0) return;
  const held = await client.query<{ name: string; permissions: string[] }>(
    'SELECT name, permissions FROM roles WHERE name = ANY($1::text[]) ORDER BY name FOR SHARE',
    [[...token.roles]],
  );
  checkRolesUnchanged(token.roles, checkedRoles, new Map(held.rows.map((row) => [row.name, row.permissions])));
}
