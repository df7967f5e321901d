import type { Logger } from 'pino';
import type { CompiledGrant, ServiceCatalog } from '../../policy/types.js';
import type { Role, TokenRecord, TokenStatus } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import { compileCidrs, type CidrSet } from './cidr.js';
import type { CacheEntry, TokenEntry } from './token-entry.js';

/** Turns permission strings into a compiled grant; null when that cannot be done safely. */
export type GrantCompiler = (permissions: readonly string[], catalog: ServiceCatalog, logger: Logger) => CompiledGrant | null;

export interface TokenLoaderOptions {
  readonly store: Store;
  readonly catalog: () => ServiceCatalog;
  readonly compileGrant: GrantCompiler;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly negativeTtlMs: number;
}

/** Deeper chains than this are refused as disabled rather than walked forever. */
const MAX_LINEAGE = 32;

const STATUS_RANK: Record<TokenStatus, number> = { active: 0, disabled: 1, revoked: 2 };

/**
 * Reads a token and what it depends on (its ancestors, its roles) from the
 * store and compiles it into a cache entry. Runs only on a cache miss.
 */
export class TokenLoader {
  readonly #options: TokenLoaderOptions;
  /** Roles are shared by many tokens; dropped on a role change or a resync. */
  readonly #roles = new Map<string, Role | null>();
  /** Bumped when roles are forgotten, so a read that raced a change is not remembered. */
  #roleEpoch = 0;

  constructor(options: TokenLoaderOptions) {
    this.#options = options;
  }

  forgetRole(name: string): void {
    this.#roleEpoch++;
    this.#roles.delete(name);
  }

  forgetRoles(): void {
    this.#roleEpoch++;
    this.#roles.clear();
  }

  async load(hash: string): Promise<CacheEntry> {
    const { store, clock } = this.#options;
    const record = await store.findTokenByHash(hash);
    if (record === undefined) return { kind: 'unknown', until: clock() + this.#options.negativeTtlMs };
    return this.entryOf(record);
  }

  /** The entry of a stored token: its ancestors' status folded into its own, its roles expanded, all compiled. */
  async entryOf(record: TokenRecord): Promise<TokenEntry> {
    const { lineage, status } = await this.#lineage(record);
    if (record.honey) return this.#entry(record, lineage, status, null, null);
    const permissions: string[] = [];
    for (const name of record.roles) {
      const role = await this.#role(name);
      // A role deleted since the token was created grants nothing.
      if (role !== null) permissions.push(...role.permissions);
    }
    permissions.push(...record.permissions);
    const grant = this.#options.compileGrant(permissions, this.#options.catalog(), this.#options.logger);
    let cidrs: CidrSet | null = null;
    if (record.cidrs.length > 0) {
      try {
        cidrs = compileCidrs(record.cidrs);
      } catch (err) {
        // An allow-list we cannot read must not become "any address".
        this.#options.logger.error({ tokenId: record.id, err: (err as Error).message }, 'token has an unreadable CIDR list; denying');
        cidrs = { size: 0, contains: () => false };
      }
    }
    return this.#entry(record, lineage, status, grant, cidrs);
  }

  #entry(record: TokenRecord, lineage: string[], status: TokenStatus, grant: CompiledGrant | null, cidrs: CidrSet | null): TokenEntry {
    const limited = record.rate !== null || record.maxUses !== null;
    return {
      kind: 'token',
      id: record.id,
      name: record.name,
      env: record.env,
      status,
      expiresAt: record.expiresAt,
      notBefore: record.notBefore,
      honey: record.honey,
      lineage,
      roles: record.roles,
      cidrs,
      grant,
      limits: limited ? { id: record.id, rate: record.rate, maxUses: record.maxUses, expiresAt: record.expiresAt } : null,
      loadedAt: this.#options.clock(),
    };
  }

  /** A child is never wider than its parent: an inactive ancestor makes the child inactive too. */
  async #lineage(record: TokenRecord): Promise<{ lineage: string[]; status: TokenStatus }> {
    const lineage = [record.id];
    let status = record.status;
    let parentId = record.parentId;
    while (parentId !== null) {
      if (lineage.length >= MAX_LINEAGE || lineage.includes(parentId)) return { lineage, status: worst(status, 'disabled') };
      lineage.push(parentId);
      const parent = await this.#options.store.getToken(parentId);
      if (parent === undefined) return { lineage, status: worst(status, 'revoked') };
      status = worst(status, parent.status);
      parentId = parent.parentId;
    }
    return { lineage, status };
  }

  async #role(name: string): Promise<Role | null> {
    const cached = this.#roles.get(name);
    if (cached !== undefined) return cached;
    const epoch = this.#roleEpoch;
    const role = (await this.#options.store.getRole(name)) ?? null;
    if (epoch === this.#roleEpoch) this.#roles.set(name, role);
    return role;
  }
}

function worst(a: TokenStatus, b: TokenStatus): TokenStatus {
  return STATUS_RANK[a] >= STATUS_RANK[b] ? a : b;
}
