import { formatDuration } from '../config/index.js';
import type { Environment, Role, Service, TokenRecord } from '../store/records.js';

// What the admin API shows of each record. A token's hash is never shown;
// its plaintext exists only in the response that created it.

const iso = (ms: number) => new Date(ms).toISOString();

export function environmentView(env: Environment) {
  return { name: env.name, maxTtl: formatDuration(env.maxTtlMs), maxTtlMs: env.maxTtlMs, createdAt: iso(env.createdAt) };
}

export function serviceView(service: Service) {
  return {
    name: service.name,
    kind: service.kind,
    tokenHeader: service.tokenHeader,
    maxBodyBytes: service.maxBodyBytes,
    paths: service.paths,
    headerUnderscores: service.headerUnderscores,
    sqlFunctions: service.sqlFunctions,
    hiddenTools: service.hiddenTools,
    bindings: service.bindings.map((binding) => ({
      env: binding.env,
      upstream: binding.upstream,
      // Where the secret comes from, never the secret.
      credential: binding.credential,
    })),
    createdAt: iso(service.createdAt),
    updatedAt: iso(service.updatedAt),
  };
}

export function roleView(role: Role) {
  return {
    name: role.name,
    description: role.description,
    permissions: role.permissions,
    createdAt: iso(role.createdAt),
    updatedAt: iso(role.updatedAt),
  };
}

/** With `now`, an active token past its expiry shows as `expired` (its stored status stays active). */
export function tokenView(token: TokenRecord, now?: number) {
  return {
    id: token.id,
    name: token.name,
    hint: token.hint,
    env: token.env,
    owner: token.owner,
    status: now !== undefined && token.status === 'active' && token.expiresAt <= now ? 'expired' as const : token.status,
    roles: token.roles,
    permissions: token.permissions,
    expiresAt: iso(token.expiresAt),
    notBefore: token.notBefore === null ? null : iso(token.notBefore),
    cidrs: token.cidrs,
    rate: token.rate === null ? null : { count: token.rate.count, periodMs: token.rate.periodMs },
    maxUses: token.maxUses,
    parentId: token.parentId,
    honey: token.honey,
    metadata: token.metadata,
    createdAt: iso(token.createdAt),
    createdBy: token.createdBy,
    updatedAt: iso(token.updatedAt),
  };
}
