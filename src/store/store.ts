import type { AuditEvent, AuditEventInput } from '../audit/event.js';
import type { Actor, Environment, Role, Service, TokenRecord, TokenStatus } from './records.js';
import type { RoleChangeGuard, RoleSnapshot } from './role-rules.js';
import type { TokenConstraints } from './token-lifecycle.js';

export interface Page<T> {
  readonly items: T[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  readonly nextCursor: string | null;
}

export interface TokenFilter {
  readonly env?: string;
  readonly status?: TokenStatus;
  readonly role?: string;
  readonly owner?: string;
  readonly parentId?: string;
  /** Substring of the name, ignoring the case of ASCII letters. */
  readonly nameContains?: string;
  /** Page size; at most 500 (MAX_TOKEN_PAGE), whatever is asked. */
  readonly limit: number;
  readonly cursor?: string;
}

/** An event a store's own lookup would not find (see Store.auditLookupGap). */
export interface AuditLookupGap {
  readonly seq: number;
  /** The read that misses it: by its token, or by a time window that holds its time. */
  readonly by: 'token' | 'time';
}

export interface AuditFilter {
  readonly kind?: 'decision' | 'admin';
  /** Decision events: the token presented. Admin events: the actor's token. */
  readonly tokenId?: string;
  readonly service?: string;
  readonly decision?: 'allow' | 'deny';
  readonly reason?: string;
  /** Inclusive. */
  readonly fromTime?: number;
  /** Exclusive. */
  readonly toTime?: number;
  /** Events with seq greater than this. */
  readonly afterSeq?: number;
  /** At most 10,000 (MAX_AUDIT_PAGE); page on with afterSeq. */
  readonly limit: number;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** A signed statement that the chain had this head at this time (see src/audit). */
export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly time: number;
  /** Ed25519 signature, base64, over the canonical JSON of { seq, hash, time, keyId }. */
  readonly signature: string;
  readonly keyId: string;
}

/** What changed, as the change feed carries it: enough for a cache to drop or reload entries. */
export type Change =
  | { readonly type: 'token'; readonly ids: readonly string[] }
  | { readonly type: 'role'; readonly name: string }
  | { readonly type: 'service'; readonly name: string }
  | { readonly type: 'environment'; readonly name: string };

/** PostgreSQL NOTIFY channel carrying `Change` as JSON. */
export const CHANGE_CHANNEL = 'latchkey_changes';

/** A status change of a token, as the change feed and the audit log see it. */
export interface TokenStatusChange {
  readonly ids: readonly string[];
  readonly status: TokenStatus;
}

/** Uses of one permission by one token: a node's increments when added, the totals when listed. */
export interface UsageCount {
  readonly tokenId: string;
  /** The permission that allowed the requests, as the grant writes it. */
  readonly permission: string;
  readonly count: number;
  readonly lastUsed: number;
}

/**
 * One distinct request a node saw a token make under a permission on a day
 * (UTC days since the epoch): what the suggested grant is computed from,
 * without reading the audit trail. Rows are a set: adding one twice is a no-op.
 */
export interface SeenRequest {
  readonly tokenId: string;
  readonly permission: string;
  readonly day: number;
  readonly service: string;
  readonly action: string;
  readonly resource: string;
}

/** A token and permission whose distinct requests on a day passed a node's bound: not all of them were kept. */
export interface SeenOverflow {
  readonly tokenId: string;
  readonly permission: string;
  readonly day: number;
}

/** What one flush of a node's usage counter adds, in one transaction. */
export interface UsageFlush {
  readonly counts: readonly UsageCount[];
  readonly seen?: readonly SeenRequest[];
  readonly overflows?: readonly SeenOverflow[];
}

/** Days since the epoch, both inclusive; optionally of one token. */
export interface UsageDays {
  readonly fromDay: number;
  readonly toDay: number;
  readonly tokenId?: string;
}

/** The distinct requests seen in a span of days (the day dropped), and which token and permission overflowed on any of them. */
export interface SeenInDays {
  readonly requests: ReadonlyArray<Omit<SeenRequest, 'day'>>;
  readonly overflows: ReadonlyArray<Omit<SeenOverflow, 'day'>>;
}

/** How a token is linked by rotation. graceUntil: when a predecessor stops working (its expiry is set to it too). */
export interface TokenLinks {
  readonly predecessorId: string | null;
  readonly successorId: string | null;
  readonly graceUntil: number | null;
}

/** What the lifecycle scheduler asks the store for (see src/scheduler). */
export type DueRule =
  /** Rotated predecessors whose grace period has ended and that are not revoked yet. */
  | { readonly kind: 'grace_end'; readonly now: number }
  /** Active tokens expiring in (now, horizon] that have not had their notice. */
  | { readonly kind: 'expiring'; readonly now: number; readonly horizon: number }
  /** Tokens past their expiry, not revoked, whose expiry has not been recorded. */
  | { readonly kind: 'expired'; readonly now: number }
  /** Active, unexpired tokens of env created before `since` and not used since then. */
  | { readonly kind: 'unused'; readonly env: string; readonly since: number; readonly now: number };

/** Allowed requests of a window, grouped by token, service, action, resource and the permission that allowed them. */
export interface RequestSummary {
  readonly tokenId: string;
  readonly service: string;
  readonly action: string;
  readonly resource: string;
  readonly matched: string | null;
  readonly count: number;
  readonly lastTime: number;
}

export interface RequestWindow {
  /** Inclusive. */
  readonly fromTime: number;
  /** Exclusive. */
  readonly toTime: number;
  readonly tokenId?: string;
}

/** What the scheduler records once per token: its expiry notice, and its expiry. */
export type TokenNoticeKind = 'expiring' | 'expired';

/**
 * Everything Latchkey persists. Two implementations (SQLite, PostgreSQL) pass
 * one contract suite. Every mutating method writes its admin audit event in the
 * same transaction, so a change and its record commit or fail together; an
 * error leaves the store unchanged.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';

  /** Applies pending migrations; safe to call twice and from two processes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;

  /**
   * Calls listener after each change committed through this instance. The
   * PostgreSQL store also sends each change with NOTIFY on CHANGE_CHANNEL inside
   * the transaction, so other processes learn of it exactly when it commits.
   */
  onChange(listener: (change: Change) => void): () => void;

  getMeta(key: string): Promise<string | undefined>;
  /** Sets key only when it is unset; returns the value in force afterwards. */
  initMeta(key: string, value: string): Promise<string>;

  listEnvironments(): Promise<Environment[]>;
  getEnvironment(name: string): Promise<Environment | undefined>;
  /** Throws `conflict` when it exists. */
  createEnvironment(env: Environment, actor: Actor): Promise<void>;

  listServices(): Promise<Service[]>;
  getService(name: string): Promise<Service | undefined>;
  /** Throws `conflict` when it exists. */
  createService(service: Service, actor: Actor): Promise<void>;
  /** Replaces a service (its bindings, options); throws `not_found` when it does not exist. */
  updateService(service: Service, actor: Actor): Promise<void>;
  /** Throws `not_found` when it does not exist. */
  removeService(name: string, actor: Actor): Promise<void>;

  listRoles(): Promise<Role[]>;
  getRole(name: string): Promise<Role | undefined>;
  createRole(role: Role, actor: Actor): Promise<void>;
  /**
   * Replaces a role's description and permissions. Throws `conflict` when its
   * permissions are no longer `guard.expected`, or when the change widens it
   * while a live token (not revoked, not expired) holds it; `not_found` when absent.
   */
  updateRole(role: Role, actor: Actor, guard: RoleChangeGuard): Promise<void>;
  /** Throws `conflict` while a live token holds the role, `not_found` when absent. */
  deleteRole(name: string, actor: Actor): Promise<void>;

  /**
   * `checkedRoles`: the roles the token's ceiling was checked against. When
   * given, every role the token names must still exist with exactly those
   * permissions when the token commits (`conflict` otherwise).
   */
  createToken(token: TokenRecord, actor: Actor, checkedRoles?: readonly RoleSnapshot[]): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(filter: TokenFilter): Promise<Page<TokenRecord>>;
  /**
   * Sets the status of a token. Revoking also revokes every descendant, and
   * revocation is final: a revoked token cannot be enabled again (`conflict`).
   * Returns the ids whose status changed.
   */
  setTokenStatus(id: string, status: TokenStatus, actor: Actor): Promise<TokenStatusChange>;

  /**
   * Creates `successor` (same parent as the predecessor) and links the two; the
   * predecessor's expiry becomes min(expiry, graceUntil), so it is refused from
   * that instant whatever runs. graceUntil <= now revokes the predecessor (and
   * its descendants) at once. Audited as token.rotate; returns the ids revoked.
   */
  rotateToken(predecessorId: string, successor: TokenRecord, graceUntil: number, actor: Actor, checkedRoles?: readonly RoleSnapshot[]): Promise<TokenStatusChange>;
  /** No links: all null. */
  tokenLinks(id: string): Promise<TokenLinks>;
  /** Replaces a token's roles and direct permissions (narrowing); `not_found`, `conflict` when revoked. Audited as token.narrow. */
  updateTokenGrant(id: string, grant: { readonly roles: readonly string[]; readonly permissions: readonly string[] }, actor: Actor): Promise<TokenRecord>;
  /** Replaces a live token's expiry, CIDRs, rate and use cap (checked by the caller against policy), audited as token.update. */
  updateTokenConstraints(id: string, constraints: TokenConstraints, actor: Actor): Promise<TokenRecord>;
  /** At most `limit` tokens matching a scheduler rule, in a stable order. */
  dueTokens(rule: DueRule, limit: number): Promise<TokenRecord[]>;
  /** Records a notice once, with its audit event; false when it was recorded before. */
  noteToken(id: string, kind: TokenNoticeKind, actor: Actor, detail: Readonly<Record<string, unknown>>): Promise<boolean>;
  /** Adds a node's increments to the totals (count added, lastUsed the later), in one transaction. */
  addUsage(counts: readonly UsageCount[]): Promise<void>;
  /** addUsage, and the flush's seen requests and overflows added to the daily rollup, all in one transaction. */
  addUsageFlush(flush: UsageFlush): Promise<void>;
  /** The totals, of one token or of all. */
  listUsage(tokenId?: string): Promise<UsageCount[]>;
  /** The rollup of a span of days: distinct requests per token and permission (reports read this, never the audit trail). */
  listSeenRequests(days: UsageDays): Promise<SeenInDays>;

  /** The allowed decisions of a window, grouped (reports and narrowing replay these). */
  summarizeRequests(window: RequestWindow): Promise<RequestSummary[]>;

  /** Appends events after the current head, linking them into the hash chain, in one transaction. */
  appendAudit(events: readonly AuditEventInput[]): Promise<AuditEvent[]>;
  readAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  /**
   * For a store whose reads by token or by time go through structures of its own, outside the hash chain
   * (SQLite's token spans and time spans): the first seq of an event that such a read would not find, and which
   * read, or null when every event is found. `audit verify` checks it, so that deleting or narrowing a span cannot
   * hide events from `audit query --token-id` or `--from`/`--to` (or from the reports built on them).
   */
  auditLookupGap?(): Promise<AuditLookupGap | null>;
  /** seq 0 and GENESIS_HASH for an empty chain; after pruning, the head is still the last event's. */
  auditHead(): Promise<AuditHead>;
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Newest first. */
  listCheckpoints(limit: number): Promise<AuditCheckpoint[]>;
  /**
   * Deletes events with seq < beforeSeq; returns how many. The caller keeps a
   * checkpoint at beforeSeq - 1. The newest event is never deleted: it is the head.
   */
  pruneAudit(beforeSeq: number): Promise<number>;
}
