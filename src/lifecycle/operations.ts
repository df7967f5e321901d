import { invalid, LatchkeyError, notFound } from '../errors/index.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { TokenHasher } from '../token/index.js';
import { loadServiceCatalog } from './catalog.js';
import { DEFAULT_MAX_DEPTH, resolveChild, type ChildRequest } from './derive.js';
import { chainOf } from './lineage.js';
import { mintToken, prepareMint, type MintResult } from './mint.js';
import type { MintAuthority } from './mint-scope.js';

// Derive, rotate, narrow: what a holder or an operator does to a token after
// it was minted. Each checks first and then changes the store in one step.

export interface DeriveOptions {
  readonly name: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly maxDepth?: number;
}

/** Mints a child of `parent` (the caller authenticated as it), within it and its ancestors in every dimension. */
export async function deriveToken(store: Store, hasher: TokenHasher, parent: TokenRecord, request: ChildRequest, options: DeriveOptions, now: number): Promise<MintResult> {
  const catalog = await loadServiceCatalog(store);
  const chain = await chainOf(store, parent, catalog);
  const limits = resolveChild(chain, request, catalog, now, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const actor: Actor = { tokenId: parent.id, name: parent.name };
  return mintToken(store, hasher, {
    name: options.name,
    env: limits.env,
    owner: parent.owner,
    roles: [],
    permissions: limits.permissions,
    expiresAt: limits.expiresAt,
    notBefore: limits.notBefore,
    cidrs: limits.cidrs,
    rate: limits.rate,
    maxUses: limits.maxUses,
    honey: false,
    metadata: { ...options.metadata },
    parentId: parent.id,
  }, actor, now, { permissions: chain[0]!.permissions, env: parent.env });
}

export interface RotateResult extends MintResult {
  readonly predecessor: string;
  readonly graceUntil: number;
  /** When the predecessor stops working: the grace end or its own expiry, the earlier. */
  readonly predecessorUntil: number;
  readonly revoked: readonly string[];
}

/**
 * A successor with the same grant and constraints, its lifetime the old one's
 * (capped by the environment's maximum and, for a child, by its ancestors).
 */
export async function rotateToken(store: Store, hasher: TokenHasher, id: string, graceMs: number, actor: Actor, now: number, creator: MintAuthority): Promise<RotateResult> {
  if (!Number.isFinite(graceMs) || graceMs < 0) throw invalid('grace', 'expected a duration of zero or more');
  const old = await store.getToken(id);
  if (old === undefined) throw notFound(`token ${id}`);
  if (old.honey) throw new LatchkeyError('conflict', 'a honeytoken is not rotated: create a new one');
  const env = await store.getEnvironment(old.env);
  if (env === undefined) throw invalid('env', `environment ${old.env} does not exist`);
  let expiresAt = now + Math.min(Math.max(1, old.expiresAt - old.createdAt), env.maxTtlMs);
  if (old.parentId !== null) {
    const parent = await store.getToken(old.parentId);
    if (parent === undefined) throw notFound(`token ${old.parentId}`);
    const catalog = await loadServiceCatalog(store);
    expiresAt = Math.min(expiresAt, ...(await chainOf(store, parent, catalog)).map((a) => a.record.expiresAt));
  }
  const prepared = await prepareMint(store, hasher, {
    name: old.name, env: old.env, owner: old.owner, roles: old.roles, permissions: old.permissions, expiresAt,
    notBefore: old.notBefore !== null && old.notBefore > now ? old.notBefore : null,
    cidrs: old.cidrs, rate: old.rate, maxUses: old.maxUses, honey: false, metadata: old.metadata, parentId: old.parentId,
  }, actor, now, creator);
  const graceUntil = now + graceMs;
  const change = await store.rotateToken(id, prepared.record, graceUntil, actor, prepared.checkedRoles);
  return { record: prepared.record, token: prepared.token, predecessor: id, graceUntil, predecessorUntil: Math.min(old.expiresAt, graceUntil), revoked: change.ids };
}
