// Records to table rows and back, for both dialects. JSON columns come back as
// text from SQLite and already parsed from PostgreSQL (jsonb); both are accepted.
import type { AuditEvent } from '../audit/event.js';
import { invalid } from '../errors/index.js';
import type { Environment, Role, Service, TokenRecord } from './records.js';
import type { AuditCheckpoint, RequestSummary, SeenOverflow, SeenRequest, TokenLinks, UsageCount } from './store.js';

type Row = Record<string, unknown>;

function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function environmentFromRow(row: Row): Environment {
  return { name: row.name as string, maxTtlMs: row.max_ttl_ms as number, createdAt: row.created_at as number };
}

export const SERVICE_COLUMNS = [
  'name', 'kind', 'bindings', 'token_header', 'max_body_bytes', 'created_at', 'updated_at', 'paths', 'header_underscores',
  'sql_functions', 'hidden_tools',
] as const;

export function serviceValues(service: Service): unknown[] {
  return [
    service.name,
    service.kind,
    JSON.stringify(service.bindings),
    service.tokenHeader,
    service.maxBodyBytes,
    service.createdAt,
    service.updatedAt,
    service.paths,
    service.headerUnderscores,
    JSON.stringify(service.sqlFunctions),
    JSON.stringify(service.hiddenTools),
  ];
}

export function serviceFromRow(row: Row): Service {
  return {
    name: row.name as string,
    kind: row.kind as Service['kind'],
    bindings: json(row.bindings),
    tokenHeader: (row.token_header as string | null) ?? null,
    maxBodyBytes: row.max_body_bytes as number,
    paths: row.paths as Service['paths'],
    headerUnderscores: row.header_underscores as Service['headerUnderscores'],
    sqlFunctions: json(row.sql_functions),
    hiddenTools: json(row.hidden_tools),
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

export function roleFromRow(row: Row): Role {
  return {
    name: row.name as string,
    description: row.description as string,
    permissions: json(row.permissions),
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

export const TOKEN_COLUMNS = [
  'id', 'hash', 'hint', 'name', 'env', 'owner', 'roles', 'permissions', 'expires_at', 'not_before', 'cidrs',
  'rate_count', 'rate_period_ms', 'max_uses', 'status', 'parent_id', 'honey', 'metadata', 'created_at',
  'created_by', 'updated_at',
] as const;

/** Values in TOKEN_COLUMNS order; `honey` as a boolean, which each dialect binds its own way. */
export function tokenValues(token: TokenRecord): unknown[] {
  return [
    token.id,
    token.hash,
    token.hint,
    token.name,
    token.env,
    token.owner,
    JSON.stringify(token.roles),
    JSON.stringify(token.permissions),
    token.expiresAt,
    token.notBefore,
    JSON.stringify(token.cidrs),
    token.rate?.count ?? null,
    token.rate?.periodMs ?? null,
    token.maxUses,
    token.status,
    token.parentId,
    token.honey,
    JSON.stringify(token.metadata),
    token.createdAt,
    token.createdBy,
    token.updatedAt,
  ];
}

export function tokenFromRow(row: Row): TokenRecord {
  const rateCount = row.rate_count as number | null;
  return {
    id: row.id as string,
    hash: row.hash as string,
    hint: row.hint as string,
    name: row.name as string,
    env: row.env as string,
    owner: row.owner as string,
    roles: json(row.roles),
    permissions: json(row.permissions),
    expiresAt: row.expires_at as number,
    notBefore: (row.not_before as number | null) ?? null,
    cidrs: json(row.cidrs),
    rate: rateCount === null ? null : { count: rateCount, periodMs: row.rate_period_ms as number },
    maxUses: (row.max_uses as number | null) ?? null,
    status: row.status as TokenRecord['status'],
    parentId: (row.parent_id as string | null) ?? null,
    honey: row.honey === true || row.honey === 1,
    metadata: json(row.metadata),
    createdAt: row.created_at as number,
    createdBy: row.created_by as string,
    updatedAt: row.updated_at as number,
  };
}

export const AUDIT_COLUMNS = [
  'seq', 'time', 'kind', 'token_id', 'service', 'decision', 'reason', 'detail', 'prev_hash', 'hash',
] as const;

/**
 * Values in AUDIT_COLUMNS order. The queryable columns are copies of detail
 * fields; `detail` itself is kept as JSON text so that reading it back yields
 * exactly the value that was hashed: the canonical JSON the hash was taken
 * over when the linker hands it on (one serialization per event), else
 * JSON.stringify of the detail (the same value, keys in insertion order).
 */
export function auditValues(event: AuditEvent, detailJson: string = JSON.stringify(event.detail)): unknown[] {
  if (!Number.isSafeInteger(event.time)) throw invalid('time', 'must be whole milliseconds since the epoch');
  const decision = event.kind === 'decision' ? event.detail : undefined;
  return [
    event.seq,
    event.time,
    event.kind,
    event.kind === 'decision' ? event.detail.tokenId : event.detail.actorTokenId,
    decision?.service ?? null,
    decision?.decision ?? null,
    decision?.reason ?? null,
    detailJson,
    event.prevHash,
    event.hash,
  ];
}

/**
 * The queryable columns are copies of detail fields, outside the hash. Where a
 * column and its field disagree (an edit to hide events from `audit query
 * --token`, say), the columns are attached to the event so that its hash no
 * longer holds and verify reports the edit.
 */
export function auditFromRow(row: Row): AuditEvent {
  const detail = JSON.parse(row.detail as string) as Record<string, unknown>;
  const columns = { tokenId: row.token_id ?? null, service: row.service ?? null, decision: row.decision ?? null, reason: row.reason ?? null };
  const copied = row.kind === 'decision'
    ? { tokenId: detail.tokenId ?? null, service: detail.service ?? null, decision: detail.decision ?? null, reason: detail.reason ?? null }
    : { tokenId: detail.actorTokenId ?? null, service: null, decision: null, reason: null };
  if (Object.entries(columns).some(([key, value]) => copied[key as keyof typeof copied] !== value)) detail.queryColumns = columns;
  return {
    seq: row.seq as number,
    time: row.time as number,
    kind: row.kind,
    detail,
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  } as unknown as AuditEvent;
}

export function checkpointFromRow(row: Row): AuditCheckpoint {
  return {
    seq: row.seq as number,
    hash: row.hash as string,
    time: row.time as number,
    signature: row.signature as string,
    keyId: row.key_id as string,
  };
}

export function linksFromRow(row: Row | undefined): TokenLinks {
  if (row === undefined) return { predecessorId: null, successorId: null, graceUntil: null };
  return {
    predecessorId: (row.predecessor_id as string | null) ?? null,
    successorId: (row.successor_id as string | null) ?? null,
    graceUntil: row.grace_until === null || row.grace_until === undefined ? null : Number(row.grace_until),
  };
}

export function usageFromRow(row: Row): UsageCount {
  return { tokenId: row.token_id as string, permission: row.permission as string, count: Number(row.count), lastUsed: Number(row.last_used) };
}

export function seenFromRow(row: Row): Omit<SeenRequest, 'day'> {
  return { tokenId: row.token_id as string, permission: row.permission as string, service: row.service as string, action: row.action as string, resource: row.resource as string };
}

export function overflowFromRow(row: Row): Omit<SeenOverflow, 'day'> {
  return { tokenId: row.token_id as string, permission: row.permission as string };
}

/** SQLite gives the three detail fields as one JSON array (`fields`), PostgreSQL as columns. */
export function requestSummaryFromRow(row: Row): RequestSummary {
  const [action, resource, matched] = typeof row.fields === 'string'
    ? json<[string | null, string | null, string | null]>(row.fields)
    : [row.action as string | null, row.resource as string | null, row.matched as string | null];
  return {
    tokenId: row.token_id as string,
    service: (row.service as string | null) ?? '',
    action: action ?? '',
    resource: resource ?? '',
    matched: matched ?? null,
    count: Number(row.count),
    lastTime: Number(row.last_time),
  };
}
