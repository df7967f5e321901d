import type { AlertRaiser } from '../alerts/index.js';
import { LatchkeyError } from '../errors/index.js';
import type { Logger } from 'pino';
import { compileCidrs, parseAddress } from '../gateway/cache/cidr.js';
import { compileTokenGrant } from '../gateway/cache/grant.js';
import { compileGrant } from '../policy/index.js';
import type { CompiledGrant } from '../policy/types.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { parseToken, type TokenHasher } from '../token/index.js';
import { loadServiceCatalog, tokenRefusal } from '../lifecycle/index.js';
import { ANONYMOUS, honeytokenAlarm, type PresentedRequest } from './token-audit.js';

// Who is calling the admin API: a Latchkey token checked like the gateway
// checks one (shape, checksum, status, time, CIDR), with its grant compiled.

export interface Principal {
  readonly record: TokenRecord;
  readonly grant: CompiledGrant;
  readonly actor: Actor;
  /** The client address the request came from. */
  readonly client: string;
}

export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new LatchkeyError('token_malformed', 'more than one Authorization header');
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) throw new LatchkeyError('token_malformed', 'the Authorization header must be "Bearer <token>"');
  return match[1];
}

/** The same CIDR matcher the gateway compiles into its cache entries. */
export function addressAllowed(cidrs: readonly string[], client: string): boolean {
  if (cidrs.length === 0) return true;
  const address = parseAddress(client);
  return address !== undefined && compileCidrs(cidrs).contains(address);
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
  // A honeytoken reads as unknown to the caller, and is an alarm to the operator.
  if (record?.honey === true) await honeytokenAlarm({ store, logger, alerts }, record, 'admin_api', ANONYMOUS, client, now, request);
  const refusal = tokenRefusal(record, now);
  if (refusal !== undefined) throw new LatchkeyError(refusal);
  if (!addressAllowed(record!.cidrs, client)) throw new LatchkeyError('ip_not_allowed');
  const grant = await effectiveGrant(store, record!, logger);
  return { record: record!, grant, actor: { tokenId: record!.id, name: record!.name }, client };
}

/**
 * Roles expanded into permissions, plus the token's own, compiled by the same
 * rule the gateway applies: a deny that no longer parses denies everything.
 */
export async function effectiveGrant(store: Store, record: TokenRecord, logger: Logger): Promise<CompiledGrant> {
  const texts = [...record.permissions];
  for (const name of record.roles) {
    const role = await store.getRole(name);
    if (role !== undefined) texts.push(...role.permissions);
  }
  return compileTokenGrant(texts, await loadServiceCatalog(store), logger) ?? compileGrant([]);
}
