// The records Latchkey keeps. Times are milliseconds since the epoch.
import type { PathMatching } from '../policy/path-matching.js';

export type { PathMatching };

export type ServiceKind = 'http' | 'postgres' | 'mcp';
export const SERVICE_KINDS: readonly ServiceKind[] = ['http', 'postgres', 'mcp'];

/** nginx's `underscores_in_headers off` is `drop`. */
export type HeaderUnderscores = 'drop' | 'refuse' | 'allow';
export const HEADER_UNDERSCORES: readonly HeaderUnderscores[] = ['drop', 'refuse', 'allow'];

export interface Environment {
  readonly name: string;
  /** Longest lifetime a token of this environment may be given. */
  readonly maxTtlMs: number;
  readonly createdAt: number;
}

/** How the gateway obtains the upstream secret. The secret itself is never stored in plaintext. */
export type CredentialSource =
  | { readonly from: 'none' }
  | { readonly from: 'env'; readonly variable: string; readonly header: string; readonly scheme: string }
  | { readonly from: 'file'; readonly path: string; readonly header: string; readonly scheme: string };

export interface ServiceBinding {
  readonly env: string;
  /** `http://host:port/base`, `https://...`, or `unix:/path/to.sock:/base`. */
  readonly upstream: string;
  readonly credential: CredentialSource;
}

export interface Service {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly bindings: readonly ServiceBinding[];
  /** Header the client puts its Latchkey token in, when not `Authorization: Bearer`. */
  readonly tokenHeader: string | null;
  /** Largest request body forwarded, in bytes. */
  readonly maxBodyBytes: number;
  /** How the upstream matches paths; requests and this service's permissions are folded the same way. */
  readonly paths: PathMatching;
  /** Client header names with `_` (or another character outside A-Z a-z 0-9 -): dropped, refused, or forwarded. */
  readonly headerUnderscores: HeaderUnderscores;
  /** postgres services: functions allowed beyond the built-in side-effect-free list (`name` or `schema.name`). */
  readonly sqlFunctions: readonly string[];
  /** mcp services: tool name patterns hidden from every token's lists, whatever it is granted. */
  readonly hiddenTools: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface Role {
  readonly name: string;
  readonly description: string;
  readonly permissions: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type TokenStatus = 'active' | 'disabled' | 'revoked';

export interface RateLimit {
  readonly count: number;
  readonly periodMs: number;
}

export interface TokenRecord {
  readonly id: string;
  /** HMAC-SHA256 of the plaintext under the server key, hex. */
  readonly hash: string;
  /** `lk_prod_…abcd`: all that is ever shown of the token after creation. */
  readonly hint: string;
  readonly name: string;
  readonly env: string;
  readonly owner: string;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  readonly expiresAt: number;
  readonly notBefore: number | null;
  readonly cidrs: readonly string[];
  readonly rate: RateLimit | null;
  readonly maxUses: number | null;
  readonly status: TokenStatus;
  readonly parentId: string | null;
  readonly honey: boolean;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly updatedAt: number;
}

/** Who made an administrative change: a token, or the system itself (init, migrations). */
export interface Actor {
  readonly tokenId: string | null;
  readonly name: string;
}

export const SYSTEM_ACTOR: Actor = { tokenId: null, name: 'system' };
