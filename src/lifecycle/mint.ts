import { invalid, notFound } from '../errors/index.js';
import { parsePermissions } from '../policy/index.js';
import type { Permission } from '../policy/types.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { RoleSnapshot } from '../store/role-rules.js';
import type { Store } from '../store/store.js';
import { displayHint, generateToken, newTokenId, type TokenHasher } from '../token/index.js';
import { loadServiceCatalog } from './catalog.js';
import { checkMintScope, type MintAuthority } from './mint-scope.js';

// Minting a token: every constraint is checked against the store before
// anything is written, so a refused request changes nothing.

/** What the caller decides of a new token; the store assigns the rest (id, hash, hint, times). */
export type MintRequest = Pick<
  TokenRecord,
  'name' | 'env' | 'owner' | 'roles' | 'permissions' | 'expiresAt' | 'notBefore' | 'cidrs' | 'rate' | 'maxUses' | 'honey' | 'metadata' | 'parentId'
>;

export interface MintResult {
  readonly record: TokenRecord;
  /** The plaintext: returned to the caller this once and never stored. */
  readonly token: string;
}

/**
 * `creator`: the grant and environment of whoever mints. What the new token
 * may hold, directly or through its roles, is bounded by it (see
 * mint-scope.ts). Null only for `latchkey init` and test set-up. The roles are
 * checked as they are now, and the store refuses the token if one of them
 * changes before it commits.
 */
export async function mintToken(
  store: Store,
  hasher: TokenHasher,
  request: MintRequest,
  actor: Actor,
  now: number,
  creator: MintAuthority | null,
): Promise<MintResult> {
  const { record, token, checkedRoles } = await prepareMint(store, hasher, request, actor, now, creator);
  await store.createToken(record, actor, checkedRoles);
  return { record, token };
}

/** A minted token checked and built but not yet stored (rotation stores it together with its link). */
export interface PreparedMint extends MintResult {
  readonly checkedRoles: readonly RoleSnapshot[];
}

/** Every check of mintToken, and the record it would store. */
export async function prepareMint(
  store: Store,
  hasher: TokenHasher,
  request: MintRequest,
  actor: Actor,
  now: number,
  creator: MintAuthority | null,
): Promise<PreparedMint> {
  const env = await store.getEnvironment(request.env);
  if (env === undefined) throw invalid('env', `environment ${request.env} does not exist`);
  if (request.expiresAt <= now) throw invalid('expiresAt', 'the expiry is in the past');
  if (request.expiresAt - now > env.maxTtlMs) {
    throw invalid('ttl', `the lifetime exceeds the maximum of environment ${env.name} (${Math.floor(env.maxTtlMs / 86_400_000)} days)`);
  }
  if (request.notBefore !== null && request.notBefore >= request.expiresAt) {
    throw invalid('notBefore', 'not-before must be earlier than the expiry');
  }
  const catalog = await loadServiceCatalog(store);
  const granted: Permission[] = [];
  const checkedRoles: RoleSnapshot[] = [];
  for (const [index, name] of request.roles.entries()) {
    const role = await store.getRole(name);
    if (role === undefined) throw invalid(`roles[${index}]`, `role ${name} does not exist`);
    granted.push(...parsePermissions(role.permissions, catalog, `roles[${index}]`));
    checkedRoles.push({ name, permissions: role.permissions });
  }
  const parsed = parsePermissions(request.permissions, catalog, 'permissions');
  granted.push(...parsed);
  if (creator !== null) checkMintScope(granted, request.env, creator);
  const permissions = parsed.map((p) => p.text);
  if (request.parentId !== null && (await store.getToken(request.parentId)) === undefined) throw notFound(`token ${request.parentId}`);

  const token = generateToken(request.env);
  const record: TokenRecord = {
    id: newTokenId(),
    hash: hasher.hash(token),
    hint: displayHint(token),
    name: request.name,
    env: request.env,
    owner: request.owner,
    roles: [...request.roles],
    permissions,
    expiresAt: request.expiresAt,
    notBefore: request.notBefore,
    cidrs: [...request.cidrs],
    rate: request.rate,
    maxUses: request.maxUses,
    status: 'active',
    parentId: request.parentId,
    honey: request.honey,
    metadata: { ...request.metadata },
    createdAt: now,
    createdBy: actor.name,
    updatedAt: now,
  };
  return { record, token, checkedRoles };
}
