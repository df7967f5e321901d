import type { CredentialSource, HeaderUnderscores, PathMatching, ServiceKind } from '../store/records.js';

// What the server holds now, read through the admin API as any client would
// (so the admin token's read permissions decide what apply may see), in the
// shape the plan compares.

/** The admin API as apply uses it: the command line's client fits it. Refusals are thrown. */
export interface AdminApi {
  call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

export interface CurrentEnvironment {
  readonly name: string;
  readonly maxTtlMs: number;
}

export interface CurrentBinding {
  readonly env: string;
  readonly upstream: string;
  readonly credential: CredentialSource;
}

export interface CurrentService {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly paths: PathMatching;
  readonly headerUnderscores: HeaderUnderscores;
  readonly tokenHeader: string | null;
  readonly maxBodyBytes: number;
  readonly sqlFunctions: readonly string[];
  readonly hiddenTools: readonly string[];
  readonly bindings: readonly CurrentBinding[];
}

export interface CurrentRole {
  readonly name: string;
  readonly description: string;
  readonly permissions: readonly string[];
}

export interface CurrentState {
  readonly environments: readonly CurrentEnvironment[];
  readonly services: readonly CurrentService[];
  readonly roles: readonly CurrentRole[];
}

/** A live token holding a role: what a change to the role reaches. */
export interface Holder {
  readonly id: string;
  readonly name: string;
  readonly env: string;
  readonly expiresAt: string;
}

export async function readCurrent(api: AdminApi): Promise<CurrentState> {
  const [environments, services, roles] = await Promise.all([
    api.call<{ items: CurrentEnvironment[] }>('GET', '/v1/environments'),
    api.call<{ items: CurrentService[] }>('GET', '/v1/services'),
    api.call<{ items: CurrentRole[] }>('GET', '/v1/roles'),
  ]);
  return { environments: environments.items, services: services.items, roles: roles.items };
}

interface TokenPage {
  items: Array<{ id: string; name: string; env: string; status: string; expiresAt: string }>;
  nextCursor: string | null;
}

/**
 * The tokens that count as holding a role for the server's role rules
 * (src/store/role-rules.ts): not revoked (a disabled one can be enabled again) and not expired.
 */
export async function liveHolders(api: AdminApi, role: string, now: number): Promise<Holder[]> {
  const holders: Holder[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `role=${encodeURIComponent(role)}&limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page: TokenPage = await api.call<TokenPage>('GET', `/v1/tokens?${query}`);
    for (const token of page.items) {
      if (token.status !== 'revoked' && Date.parse(token.expiresAt) > now) {
        holders.push({ id: token.id, name: token.name, env: token.env, expiresAt: token.expiresAt });
      }
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return holders;
}
