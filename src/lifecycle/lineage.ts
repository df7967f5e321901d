import { parsePermissions } from '../policy/index.js';
import type { Permission, ServiceCatalog } from '../policy/types.js';
import type { TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { Ancestor } from './derive.js';

// The tokens above a token, read from the store on the admin path (derive,
// rotate, show): never on the gateway's hot path.

/** Its roles as they are now and its own permissions, parsed; a role deleted since grants nothing. */
export async function effectivePermissions(store: Store, record: TokenRecord, catalog: ServiceCatalog): Promise<Permission[]> {
  const texts: string[] = [];
  for (const name of record.roles) texts.push(...((await store.getRole(name))?.permissions ?? []));
  texts.push(...record.permissions);
  return parsePermissions(texts, catalog, 'permissions');
}

/** Uses left of a token's cap, from the usage totals (the limiter's own count may be a flush ahead). */
export async function remainingUses(store: Store, record: TokenRecord): Promise<number | null> {
  if (record.maxUses === null) return null;
  const used = (await store.listUsage(record.id)).reduce((sum, u) => sum + u.count, 0);
  return Math.max(0, record.maxUses - used);
}

/** `record` first, then each ancestor up to the root. Stops at 32 links, as the gateway does. */
export async function chainOf(store: Store, record: TokenRecord, catalog: ServiceCatalog): Promise<Ancestor[]> {
  const chain: Ancestor[] = [];
  let current: TokenRecord | undefined = record;
  while (current !== undefined && chain.length < 32) {
    chain.push({ record: current, permissions: await effectivePermissions(store, current, catalog), remainingUses: await remainingUses(store, current) });
    current = current.parentId === null ? undefined : await store.getToken(current.parentId);
  }
  return chain;
}

/** A token and every descendant, as a tree for `token show`. */
export interface TokenTree {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly expiresAt: number;
  readonly children: TokenTree[];
}

export async function descendantsOf(store: Store, record: TokenRecord, depth = 0): Promise<TokenTree> {
  const children: TokenTree[] = [];
  if (depth < 32) {
    let cursor: string | undefined;
    do {
      const page = await store.listTokens({ parentId: record.id, limit: 500, ...(cursor !== undefined && { cursor }) });
      for (const child of page.items) children.push(await descendantsOf(store, child, depth + 1));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }
  return { id: record.id, name: record.name, status: record.status, expiresAt: record.expiresAt, children };
}
