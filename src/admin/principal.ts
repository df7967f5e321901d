import type { AlertRaiser } from '../alerts/index.js';
import type { Logger } from 'pino';
import { admissionRefusal } from '../core/admission.js';
import { compileTokenGrant } from '../core/tokens/grant.js';
import { TokenLoader } from '../core/tokens/token-loader.js';
import type { TokenEntry } from '../core/tokens/token-entry.js';
import { LatchkeyError } from '../errors/index.js';
import { loadServiceCatalog } from '../lifecycle/index.js';
import { compileGrant } from '../policy/index.js';
import type { CompiledGrant } from '../policy/types.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { parseToken, type TokenHasher } from '../token/index.js';
import { ANONYMOUS, honeytokenAlarm, type PresentedRequest } from './token-audit.js';

// Who is calling the admin API: a Latchkey token judged by the very rules the
// gateways apply (src/core/admission.ts: status, its ancestors' status, time,
// client address), its grant compiled by the same loader.

export interface Principal {
  readonly record: TokenRecord;
  readonly grant: CompiledGrant;
  readonly actor: Actor;
  /** The client address the request came from. */
  readonly client: string;
}

const NOTHING = compileGrant([]);

export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new LatchkeyError('token_malformed', 'more than one Authorization header');
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) throw new LatchkeyError('token_malformed', 'the Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * A stored token as the core sees it, read fresh (no cache: the admin API
 * answers from the store as it is now): ancestors folded into its status,
 * roles expanded, grant and CIDR list compiled.
 */
export async function tokenEntryOf(store: Store, record: TokenRecord, logger: Logger, now: number): Promise<TokenEntry> {
  const catalog = await loadServiceCatalog(store);
  const loader = new TokenLoader({ store, catalog: () => catalog, compileGrant: compileTokenGrant, logger, clock: () => now, negativeTtlMs: 0 });
  return loader.entryOf(record);
}

export async function authenticate(
  store: Store,
  hasher: TokenHasher,
  header: string | string[] | undefined,
  client: string,
  now: number,
  logger: Logger,
  alerts?: AlertRaiser,
  request?: PresentedRequest,
): Promise<Principal> {
  const text = bearerToken(header);
  if (text === undefined) throw new LatchkeyError('token_missing');
  if (parseToken(text) === undefined) throw new LatchkeyError('token_malformed');
  const record = await store.findTokenByHash(hasher.hash(text));
  if (record === undefined) throw new LatchkeyError('token_unknown');
  // A honeytoken reads as unknown to the caller, and is an alarm to the operator.
  if (record.honey) {
    await honeytokenAlarm({ store, logger, alerts }, record, 'admin_api', ANONYMOUS, client, now, request);
    throw new LatchkeyError('token_unknown');
  }
  return admitRecord(store, record, client, now, logger);
}

/**
 * A stored token admitted by the gateways' rules, read fresh: how a bearer token
 * is judged once found, and how a console session's token is judged on every request.
 */
export async function admitRecord(store: Store, record: TokenRecord, client: string, now: number, logger: Logger): Promise<Principal> {
  if (record.honey) throw new LatchkeyError('token_unknown');
  const entry = await tokenEntryOf(store, record, logger, now);
  const refusal = admissionRefusal(entry, now, null, null, client);
  if (refusal !== null) throw new LatchkeyError(refusal);
  return { record, grant: entry.grant ?? NOTHING, actor: { tokenId: record.id, name: record.name }, client };
}

/** The principal of a console session: its token, by id, admitted afresh. */
export async function authenticateById(store: Store, tokenId: string, client: string, now: number, logger: Logger): Promise<Principal> {
  const record = await store.getToken(tokenId);
  if (record === undefined) throw new LatchkeyError('token_unknown');
  return admitRecord(store, record, client, now, logger);
}

/** The effective grant of a stored token, as the admin API and the gateways compile it. */
export async function effectiveGrant(store: Store, record: TokenRecord, logger: Logger, now: number = Date.now()): Promise<CompiledGrant> {
  return (await tokenEntryOf(store, record, logger, now)).grant ?? NOTHING;
}
