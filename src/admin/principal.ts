import { BlockList, isIPv4 } from 'node:net';
import { LatchkeyError } from '../errors/index.js';
import { compileGrant, parsePermissions } from '../policy/index.js';
import type { CompiledGrant } from '../policy/types.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { parseToken, type TokenHasher } from '../token/index.js';
import { loadServiceCatalog, tokenRefusal } from '../lifecycle/index.js';

// Who is calling the admin API: a Latchkey token checked like the gateway
// checks one (shape, checksum, status, time, CIDR), with its grant compiled.

export interface Principal {
  readonly record: TokenRecord;
  readonly grant: CompiledGrant;
  readonly actor: Actor;
}

export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new LatchkeyError('token_malformed', 'more than one Authorization header');
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) throw new LatchkeyError('token_malformed', 'the Authorization header must be "Bearer <token>"');
  return match[1];
}

export function addressAllowed(cidrs: readonly string[], client: string): boolean {
  if (cidrs.length === 0) return true;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  const plain = client.startsWith('::ffff:') && isIPv4(client.slice(7)) ? client.slice(7) : client;
  return list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
}

export async function authenticate(
  store: Store,
  hasher: TokenHasher,
  header: string | string[] | undefined,
  client: string,
  now: number,
): Promise<Principal> {
  const text = bearerToken(header);
  if (text === undefined) throw new LatchkeyError('token_missing');
  if (parseToken(text) === undefined) throw new LatchkeyError('token_malformed');
  const record = await store.findTokenByHash(hasher.hash(text));
  const refusal = tokenRefusal(record, now);
  if (refusal !== undefined) throw new LatchkeyError(refusal);
  if (!addressAllowed(record!.cidrs, client)) throw new LatchkeyError('ip_not_allowed');
  const grant = compileGrant(await effectivePermissions(store, record!));
  return { record: record!, grant, actor: { tokenId: record!.id, name: record!.name } };
}

/** Roles expanded into permissions, plus the token's own; parsed once here, not per decision. */
export async function effectivePermissions(store: Store, record: TokenRecord) {
  const texts = [...record.permissions];
  for (const name of record.roles) {
    const role = await store.getRole(name);
    if (role !== undefined) texts.push(...role.permissions);
  }
  const catalog = await loadServiceCatalog(store);
  // A permission naming a service removed since is dropped rather than failing the whole token:
  // no request can reach a service that does not exist, so dropping even a deny widens nothing.
  return texts.flatMap((text) => {
    try {
      return parsePermissions([text], catalog);
    } catch {
      return [];
    }
  });
}
