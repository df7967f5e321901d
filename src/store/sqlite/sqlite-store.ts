// The embedded store: one better-sqlite3 connection, statements prepared once.
// better-sqlite3 is synchronous; the async Store methods wrap its calls, and each
// mutation runs in a BEGIN IMMEDIATE transaction together with its audit event.
import type Database from 'better-sqlite3';
import type { AuditEvent, AuditEventInput } from '../../audit/event.js';
import { GENESIS_HASH, linkForStore } from '../../audit/chain.js';
import { notFound } from '../../errors/index.js';
import { adminEvent, tokenForAudit, type AdminChange, type Mutation } from '../admin-event.js';
import { ChangeFeed } from '../change-feed.js';
import { auditPageLimit, auditReadQuery, sqliteAuditTailQuery, tokenListQuery } from '../queries.js';
import type { Actor, Environment, Role, Service, TokenRecord, TokenStatus } from '../records.js';
import * as rows from '../rows.js';
import { checkRoleChange, checkRolesUnchanged, refuseWhileHeld, type RoleChangeGuard, type RoleSnapshot } from '../role-rules.js';
import * as sql from '../lifecycle-sql.js';
import type { AuditCheckpoint, AuditFilter, AuditHead, AuditLookupGap, Change, DueRule, Page, Store, TokenFilter, TokenLinks, TokenNoticeKind, RequestSummary, RequestWindow, SeenInDays, TokenStatusChange, UsageCount, UsageDays, UsageFlush } from '../store.js';
import { checkNarrow, checkRotation, constraintsEvent, constraintValues, narrowEvent, rotationEvent, type TokenConstraints } from '../token-lifecycle.js';
import { encodeCursor } from '../token-cursor.js';
import { alreadyExists, checkParent, checkStatusChange, orderChangedIds, statusChangeEvent } from '../token-status.js';
import { guarded, migrateSqlite, openDatabase } from './sqlite-database.js';
import { prepareStatements, type SqliteStatements } from './sqlite-statements.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { UnspannedEvents } from './audit-spans.js';

/** Where rows.auditValues puts the token column (the decision's token, or the admin's). */
const AUDIT_TOKEN_COLUMN = rows.AUDIT_COLUMNS.indexOf('token_id');

export interface SqliteStoreOptions {
  /** Path of the database file; its directory is created when missing. */
  readonly file: string;
  /** Clock for audit times and status changes; tests freeze it. */
  readonly now?: () => number;
  /**
   * Checkpoint the write-ahead log from a worker thread instead of inside
   * commits (see wal-checkpointer.ts): for long-running processes that write
   * the audit trail. Default false.
   */
  readonly backgroundCheckpoints?: boolean;
  /** Told if the checkpoint worker fails (SQLite then checkpoints inside commits again). */
  readonly onCheckpointFailure?: (error: Error) => void;
  /**
   * How many audit events may go without lookup spans before an append writes
   * theirs (see #append); reads scan those events directly. Default 1024;
   * tests make it small.
   */
  readonly spanEvery?: number;
}

export const DEFAULT_SPAN_EVERY = 1024;

type Row = Record<string, unknown>;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const now = options.now ?? Date.now;
  const db = openDatabase(options.file);
  let checkpointer: WalCheckpointer | null = null;
  try {
    migrateSqlite(db, now());
    const onDisk = options.file !== '' && options.file !== ':memory:';
    if (options.backgroundCheckpoints === true && onDisk) {
      checkpointer = await WalCheckpointer.start(db, options.file, { ...(options.onCheckpointFailure !== undefined && { onFailure: options.onCheckpointFailure }) });
    }
    return new SqliteStore(db, now, checkpointer, Math.max(1, Math.floor(options.spanEvery ?? DEFAULT_SPAN_EVERY)));
  } catch (error) {
    await checkpointer?.stop();
    db.close();
    throw error;
  }
}

class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #sql: SqliteStatements;
  readonly #feed = new ChangeFeed();
  readonly #write: Database.Transaction<(work: () => unknown) => unknown>;
  /** Filter-shaped statements, prepared on first use; at most one per combination of filters. */
  readonly #dynamic = new Map<string, Database.Statement<unknown[], Row>>();

  readonly #checkpointer: WalCheckpointer | null;
  readonly #spanEvery: number;
  /** The spans of the events appended since the last spans were written, while this process appended them all. */
  #unspanned: UnspannedEvents | null = null;

  constructor(db: Database.Database, now: () => number, checkpointer: WalCheckpointer | null, spanEvery: number) {
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#spanEvery = spanEvery;
    this.#now = now;
    this.#sql = prepareStatements(db);
    this.#write = db.transaction((work: () => unknown) => work());
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.#db, this.#now());
  }

  async close(): Promise<void> {
    await this.#checkpointer?.stop();
    if (this.#db.open) this.#db.close();
  }

  async ping(): Promise<void> {
    guarded(() => this.#db.prepare('SELECT 1').get());
  }

  onChange(listener: (change: Change) => void): () => void {
    return this.#feed.subscribe(listener);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return guarded(() => this.#sql.getMeta.get(key)?.value);
  }

  async initMeta(key: string, value: string): Promise<string> {
    return guarded(() =>
      this.#write.immediate(() => {
        this.#sql.initMeta.run(key, value);
        return this.#sql.getMeta.get(key)!.value;
      }) as string,
    );
  }

  async listEnvironments(): Promise<Environment[]> {
    return guarded(() => this.#sql.listEnvironments.all().map(rows.environmentFromRow));
  }

  async getEnvironment(name: string): Promise<Environment | undefined> {
    return guarded(() => optional(this.#sql.getEnvironment.get(name), rows.environmentFromRow));
  }

  async createEnvironment(env: Environment, actor: Actor): Promise<void> {
    this.#mutate(() => {
      if (this.#sql.insertEnvironment.run(env.name, env.maxTtlMs, env.createdAt).changes === 0) {
        throw alreadyExists(`environment ${env.name}`);
      }
      const audit = this.#adminEvent(actor, { action: 'environment.create', target: env.name, before: null, after: env });
      return { result: undefined, change: { type: 'environment', name: env.name }, audit };
    });
  }

  async listServices(): Promise<Service[]> {
    return guarded(() => this.#sql.listServices.all().map(rows.serviceFromRow));
  }

  async getService(name: string): Promise<Service | undefined> {
    return guarded(() => optional(this.#sql.getService.get(name), rows.serviceFromRow));
  }

  async createService(service: Service, actor: Actor): Promise<void> {
    this.#mutate(() => {
      if (this.#sql.insertService.run(...rows.serviceValues(service)).changes === 0) {
        throw alreadyExists(`service ${service.name}`);
      }
      const audit = this.#adminEvent(actor, { action: 'service.create', target: service.name, before: null, after: service });
      return { result: undefined, change: { type: 'service', name: service.name }, audit };
    });
  }

  async updateService(service: Service, actor: Actor): Promise<void> {
    this.#mutate(() => {
      const before = optional(this.#sql.getService.get(service.name), rows.serviceFromRow);
      if (before === undefined) throw notFound(`service ${service.name}`);
      const [name, ...rest] = rows.serviceValues(service);
      this.#sql.updateService.run(...rest, name);
      const audit = this.#adminEvent(actor, { action: 'service.update', target: service.name, before, after: service });
      return { result: undefined, change: { type: 'service', name: service.name }, audit };
    });
  }

  async removeService(name: string, actor: Actor): Promise<void> {
    this.#mutate(() => {
      const before = optional(this.#sql.getService.get(name), rows.serviceFromRow);
      if (before === undefined) throw notFound(`service ${name}`);
      this.#sql.deleteService.run(name);
      const audit = this.#adminEvent(actor, { action: 'service.remove', target: name, before, after: null });
      return { result: undefined, change: { type: 'service', name }, audit };
    });
  }

  async listRoles(): Promise<Role[]> {
    return guarded(() => this.#sql.listRoles.all().map(rows.roleFromRow));
  }

  async getRole(name: string): Promise<Role | undefined> {
    return guarded(() => optional(this.#sql.getRole.get(name), rows.roleFromRow));
  }

  async createRole(role: Role, actor: Actor): Promise<void> {
    this.#mutate(() => {
      const values = [role.name, role.description, JSON.stringify(role.permissions), role.createdAt, role.updatedAt];
      if (this.#sql.insertRole.run(...values).changes === 0) throw alreadyExists(`role ${role.name}`);
      const audit = this.#adminEvent(actor, { action: 'role.create', target: role.name, before: null, after: role });
      return { result: undefined, change: { type: 'role', name: role.name }, audit };
    });
  }

  async updateRole(role: Role, actor: Actor, guard: RoleChangeGuard): Promise<void> {
    this.#mutate(() => {
      const before = optional(this.#sql.getRole.get(role.name), rows.roleFromRow);
      if (before === undefined) throw notFound(`role ${role.name}`);
      checkRoleChange(before, guard, () => this.#liveHolders(role.name));
      this.#sql.updateRole.run(role.description, JSON.stringify(role.permissions), role.updatedAt, role.name);
      const after = { ...role, createdAt: before.createdAt };
      const audit = this.#adminEvent(actor, { action: 'role.update', target: role.name, before, after });
      return { result: undefined, change: { type: 'role', name: role.name }, audit };
    });
  }

  async deleteRole(name: string, actor: Actor): Promise<void> {
    this.#mutate(() => {
      const before = optional(this.#sql.getRole.get(name), rows.roleFromRow);
      if (before === undefined) throw notFound(`role ${name}`);
      refuseWhileHeld(name, this.#liveHolders(name), 'deleted');
      this.#sql.deleteRole.run(name);
      const audit = this.#adminEvent(actor, { action: 'role.delete', target: name, before, after: null });
      return { result: undefined, change: { type: 'role', name }, audit };
    });
  }

  async createToken(token: TokenRecord, actor: Actor, checkedRoles?: readonly RoleSnapshot[]): Promise<void> {
    this.#mutate(() => {
      if (checkedRoles !== undefined) this.#checkRoles(token, checkedRoles);
      if (token.parentId !== null) {
        const parent = optional(this.#sql.getToken.get(token.parentId), rows.tokenFromRow);
        checkParent(token.parentId, parent?.status);
      }
      const values = rows.tokenValues(token).map((value) => (typeof value === 'boolean' ? Number(value) : value));
      if (this.#sql.insertToken.run(...values).changes === 0) throw alreadyExists(`token ${token.id} or its hash`);
      const after = tokenForAudit(token);
      const audit = this.#adminEvent(actor, { action: 'token.create', target: token.id, before: null, after });
      return { result: undefined, change: { type: 'token', ids: [token.id] }, audit };
    });
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    return guarded(() => optional(this.#sql.getToken.get(id), rows.tokenFromRow));
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return guarded(() => optional(this.#sql.findTokenByHash.get(hash), rows.tokenFromRow));
  }

  async listTokens(filter: TokenFilter): Promise<Page<TokenRecord>> {
    const query = tokenListQuery(filter, 'sqlite');
    const found = guarded(() => this.#statement(query.sql).all(...query.values)).map(rows.tokenFromRow);
    const items = found.slice(0, query.limit);
    const last = items.at(-1);
    const more = found.length > query.limit && last !== undefined;
    return { items, nextCursor: more ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
  }

  async setTokenStatus(id: string, status: TokenStatus, actor: Actor): Promise<TokenStatusChange> {
    return this.#mutate(() => {
      const token = checkStatusChange(id, optional(this.#sql.getToken.get(id), rows.tokenFromRow), status);
      const time = this.#now();
      const changed =
        status === 'revoked'
          ? this.#sql.revokeTree.all(id, time)
          : this.#sql.setStatus.all(status, time, id, status);
      const ids = orderChangedIds(id, changed.map((row) => row.id));
      if (ids.length === 0) return { result: { ids, status }, change: null, audit: null };
      const audit = statusChangeEvent(actor, token, status, ids, time);
      return { result: { ids, status }, change: { type: 'token', ids }, audit };
    });
  }

  async rotateToken(predecessorId: string, successor: TokenRecord, graceUntil: number, actor: Actor, checkedRoles?: readonly RoleSnapshot[]): Promise<TokenStatusChange> {
    return this.#mutate(() => {
      const found = optional(this.#sql.getToken.get(predecessorId), rows.tokenFromRow);
      const predecessor = checkRotation(predecessorId, found, rows.linksFromRow(this.#statement(sql.LINKS).get(predecessorId)).successorId);
      if (checkedRoles !== undefined) this.#checkRoles(successor, checkedRoles);
      if (successor.parentId !== null) checkParent(successor.parentId, optional(this.#sql.getToken.get(successor.parentId), rows.tokenFromRow)?.status);
      const values = rows.tokenValues(successor).map((value) => (typeof value === 'boolean' ? Number(value) : value));
      if (this.#sql.insertToken.run(...values).changes === 0) throw alreadyExists(`token ${successor.id} or its hash`);
      const time = this.#now();
      this.#statement(sql.UPSERT_LINK_PREDECESSOR).run(predecessorId, successor.id, graceUntil);
      this.#statement(sql.INSERT_LINK_SUCCESSOR).run(successor.id, predecessorId);
      this.#statement(sql.CLAMP_EXPIRY).run(graceUntil, graceUntil, time, predecessorId);
      const revoked = graceUntil <= time ? orderChangedIds(predecessorId, this.#sql.revokeTree.all(predecessorId, time).map((row) => row.id)) : [];
      const audit = rotationEvent(actor, predecessor, successor, graceUntil, revoked, time);
      return { result: { ids: revoked, status: 'revoked' }, change: { type: 'token', ids: [predecessorId, successor.id, ...revoked.filter((id) => id !== predecessorId)] }, audit };
    });
  }

  async tokenLinks(id: string): Promise<TokenLinks> {
    return guarded(() => rows.linksFromRow(this.#statement(sql.LINKS).get(id)));
  }

  async updateTokenGrant(id: string, grant: { readonly roles: readonly string[]; readonly permissions: readonly string[] }, actor: Actor): Promise<TokenRecord> {
    return this.#mutate(() => {
      const before = checkNarrow(id, optional(this.#sql.getToken.get(id), rows.tokenFromRow));
      const time = this.#now();
      this.#statement(sql.UPDATE_GRANT).run(JSON.stringify(grant.roles), JSON.stringify(grant.permissions), time, id);
      const after: TokenRecord = { ...before, roles: [...grant.roles], permissions: [...grant.permissions], updatedAt: time };
      return { result: after, change: { type: 'token', ids: [id] }, audit: narrowEvent(actor, before, after, time) };
    });
  }

  async updateTokenConstraints(id: string, constraints: TokenConstraints, actor: Actor): Promise<TokenRecord> {
    return this.#mutate(() => {
      const before = checkNarrow(id, optional(this.#sql.getToken.get(id), rows.tokenFromRow));
      const time = this.#now();
      this.#statement(sql.UPDATE_CONSTRAINTS).run(...constraintValues(constraints, time, id));
      const after: TokenRecord = { ...before, ...constraints, updatedAt: time };
      return { result: after, change: { type: 'token', ids: [id] }, audit: constraintsEvent(actor, before, after, time) };
    });
  }

  async dueTokens(rule: DueRule, limit: number): Promise<TokenRecord[]> {
    const query = sql.dueQuery(rule, limit, 'sqlite');
    return guarded(() => this.#statement(query.sql).all(...query.values).map(rows.tokenFromRow));
  }

  async noteToken(id: string, kind: TokenNoticeKind, actor: Actor, detail: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.#mutate(() => {
      const time = this.#now();
      if (this.#statement(sql.INSERT_NOTICE).run(id, kind, time).changes === 0) return { result: false, change: null, audit: null };
      return { result: true, change: null, audit: this.#adminEvent(actor, { action: `token.${kind}`, target: id, before: null, after: detail }) };
    });
  }

  async addUsage(counts: readonly UsageCount[]): Promise<void> {
    return this.addUsageFlush({ counts });
  }

  async addUsageFlush(flush: UsageFlush): Promise<void> {
    const { counts, seen = [], overflows = [] } = flush;
    if (counts.length === 0 && seen.length === 0 && overflows.length === 0) return;
    const add = this.#statement(sql.ADD_USAGE);
    const addSeen = this.#statement(sql.ADD_SEEN);
    const addOverflow = this.#statement(sql.ADD_OVERFLOW);
    guarded(() => this.#write.immediate(() => {
      for (const c of counts) add.run(c.tokenId, c.permission, c.count, c.lastUsed);
      for (const r of seen) addSeen.run(r.tokenId, r.permission, r.service, r.action, r.resource, r.day);
      for (const o of overflows) addOverflow.run(o.tokenId, o.permission, o.day);
    }));
  }

  async listSeenRequests(days: UsageDays): Promise<SeenInDays> {
    const query = sql.seenQueries(days, 'sqlite');
    return guarded(() => ({
      requests: this.#statement(query.seen).all(...query.values).map(rows.seenFromRow),
      overflows: this.#statement(query.overflows).all(...query.values).map(rows.overflowFromRow),
    }));
  }

  async listUsage(tokenId?: string): Promise<UsageCount[]> {
    return guarded(() => (tokenId === undefined ? this.#statement(sql.LIST_USAGE).all() : this.#statement(sql.LIST_USAGE_OF).all(tokenId)).map(rows.usageFromRow));
  }

  async summarizeRequests(window: RequestWindow): Promise<RequestSummary[]> {
    return guarded(() => {
      const spanned = this.#spannedThrough();
      const summary = sql.requestSummaryQuery(window, 'sqlite', spanned);
      const tail = sql.sqliteRequestSummaryTailQuery(window, spanned);
      // A group may hold events on both sides of the spans' end: add the two up.
      const groups = new Map<string, RequestSummary>();
      for (const row of [...this.#statement(summary.sql).all(...summary.values), ...this.#statement(tail.sql).all(...tail.values)]) {
        const group = rows.requestSummaryFromRow(row);
        const key = JSON.stringify([group.tokenId, group.service, row.fields]);
        const seen = groups.get(key);
        groups.set(key, seen === undefined ? group : { ...seen, count: seen.count + group.count, lastTime: Math.max(seen.lastTime, group.lastTime) });
      }
      return [...groups.values()];
    });
  }

  async appendAudit(events: readonly AuditEventInput[]): Promise<AuditEvent[]> {
    if (events.length === 0) return [];
    // Held back, rarely and briefly, so that this append can restart a WAL grown long (wal-checkpointer.ts).
    const gate = this.#checkpointer?.gate;
    if (gate !== undefined) await gate;
    return guarded(() => this.#write.immediate(() => this.#append(events)) as AuditEvent[]);
  }

  async readAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return guarded(() => {
      // One end for both reads, so that an append between them can neither hide an event nor show it twice.
      const spanned = this.#spannedThrough();
      const query = auditReadQuery(filter, 'sqlite', spanned);
      const events = this.#statement(query.sql).all(...query.values).map(rows.auditFromRow);
      const tail = sqliteAuditTailQuery(filter, spanned);
      const limit = auditPageLimit(filter);
      if (tail === null || events.length >= limit) return events;
      return events.concat(this.#statement(tail.sql).all(...tail.values).map(rows.auditFromRow)).slice(0, limit);
    });
  }

  /** The last seq the lookup spans cover; reads by token or by time scan the events after it. */
  #spannedThrough(): number {
    return this.#sql.spannedThrough.get()!.seq;
  }

  async auditLookupGap(): Promise<AuditLookupGap | null> {
    return guarded(() => {
      const spanned = this.#spannedThrough();
      const byTime = this.#sql.timeLookupGap.get(spanned)?.seq;
      const byToken = this.#sql.tokenLookupGap.get(spanned)?.seq;
      // The first event either lookup misses.
      if (byTime !== undefined && (byToken === undefined || byTime <= byToken)) return { seq: byTime, by: 'time' };
      return byToken === undefined ? null : { seq: byToken, by: 'token' };
    });
  }

  async auditHead(): Promise<AuditHead> {
    return guarded(() => this.#sql.auditHead.get() ?? { seq: 0, hash: GENESIS_HASH });
  }

  async addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    const { seq, hash, time, signature, keyId } = checkpoint;
    guarded(() => this.#sql.insertCheckpoint.run(seq, hash, time, signature, keyId));
  }

  async listCheckpoints(limit: number): Promise<AuditCheckpoint[]> {
    return guarded(() => this.#sql.listCheckpoints.all(Math.max(0, Math.floor(limit))).map(rows.checkpointFromRow));
  }

  async pruneAudit(beforeSeq: number): Promise<number> {
    return guarded(
      () =>
        this.#write.immediate(() => {
          const pruned = this.#sql.pruneAudit.run(beforeSeq).changes;
          this.#sql.pruneTokenSpans.run();
          this.#sql.pruneSpans.run();
          return pruned;
        }) as number,
    );
  }

  /**
   * Links events onto the head and inserts them; runs inside a write
   * transaction. Reads by token and by time find events through spans (see
   * migrations 6 to 8), which are written here once `spanEvery` events have
   * gone without, for all of them at once: one span for the group, and per
   * token one for each run of its events (audit-spans.ts). Spans written with
   * every append cost a row, and a page of the WAL, per token in every
   * commit: a commit of 27 tokens' events took twice as long as one of a
   * single token's. Until then reads scan the newest events directly
   * (sqliteAuditTailQuery): at most `spanEvery` plus one append.
   */
  #append(inputs: readonly AuditEventInput[]): AuditEvent[] {
    const head = this.#sql.appendHead.get() ?? { seq: 0, hash: GENESIS_HASH, spanned: 0 };
    const { events, details } = linkForStore(head.seq, head.hash, inputs);
    const tokens: unknown[] = [];
    for (let i = 0; i < events.length; i++) {
      const values = rows.auditValues(events[i]!, details[i]);
      this.#sql.insertAudit.run(...values);
      tokens.push(values[AUDIT_TOKEN_COLUMN]);
    }
    const last = events.at(-1);
    if (last === undefined) return events;
    // The spans built so far hold for this head only (right after spans were written there are none to hold);
    // until this append is done, none are known.
    let unspanned = this.#unspanned?.covers(head.spanned, head.seq, head.hash) === true ? this.#unspanned : null;
    if (unspanned === null && head.spanned === head.seq) unspanned = new UnspannedEvents(head.seq, head.seq, head.hash);
    this.#unspanned = null;
    if (unspanned !== null) {
      for (let i = 0; i < events.length; i++) unspanned.add(events[i]!.seq, events[i]!.time, tokens[i]);
      unspanned.reach(last.seq, last.hash);
    }
    if (last.seq - head.spanned < this.#spanEvery) {
      this.#unspanned = unspanned;
      return events;
    }
    this.#sql.clearSpansAfter.run(head.spanned);
    this.#sql.clearTokenSpansAfter.run(head.spanned);
    if (unspanned === null) {
      this.#sql.insertSpans.run(head.spanned);
      this.#sql.insertTokenSpans.run(head.spanned);
    } else {
      this.#sql.insertSpan.run(...unspanned.time!);
      for (const [tokenId, spans] of unspanned.tokens) for (const span of spans) this.#sql.insertTokenSpan.run(tokenId, ...span);
    }
    return events;
  }

  #checkRoles(token: TokenRecord, checkedRoles: readonly RoleSnapshot[]): void {
    const found = new Map<string, readonly string[]>();
    for (const name of token.roles) {
      const role = optional(this.#sql.getRole.get(name), rows.roleFromRow);
      if (role !== undefined) found.set(name, role.permissions);
    }
    checkRolesUnchanged(token.roles, checkedRoles, found);
  }

  #adminEvent(actor: Actor, change: AdminChange): AuditEventInput {
    return adminEvent(actor, change, this.#now());
  }

  /** Runs a change and its audit event in one transaction; listeners hear of it only once it committed. */
  #liveHolders(role: string): number {
    return this.#sql.liveRoleHolders.get(this.#now(), role)?.n ?? 0;
  }

  #mutate<T>(work: () => Mutation<T>): T {
    const done = guarded(
      () =>
        this.#write.immediate(() => {
          const mutation = work();
          if (mutation.audit !== null) this.#append([mutation.audit]);
          return mutation;
        }) as Mutation<T>,
    );
    if (done.change !== null) this.#feed.emit(done.change);
    return done.result;
  }

  #statement(sql: string): Database.Statement<unknown[], Row> {
    let statement = this.#dynamic.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare<unknown[], Row>(sql);
      this.#dynamic.set(sql, statement);
    }
    return statement;
  }
}

function optional<T>(row: Row | undefined, map: (row: Row) => T): T | undefined {
  return row === undefined ? undefined : map(row);
}
