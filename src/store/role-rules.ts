// The rules that keep a role from widening the tokens that hold it, shared by
// both stores. They run inside the store's transaction, so a mint racing a role
// change either sees the role it checked or fails: a token never ends up
// holding permissions its creator was not allowed to give.
import { LatchkeyError } from '../errors/index.js';
import type { Role } from './records.js';

/** The permissions of a role as the caller checked them. */
export interface RoleSnapshot {
  readonly name: string;
  readonly permissions: readonly string[];
}

/**
 * How a role change relates to the role it replaces. `expected`: the
 * permissions the caller judged the change against (a change since is a
 * conflict). `widens`: the new permissions allow something the old did not;
 * refused while a live token holds the role.
 */
export interface RoleChangeGuard {
  readonly expected: readonly string[];
  readonly widens: boolean;
}

/** Tokens that still count as holding a role: not revoked (disabled ones can be enabled) and not expired. */
export const LIVE_HOLDERS_SQLITE = `SELECT count(*) AS n FROM tokens WHERE status <> 'revoked' AND expires_at > ?
  AND EXISTS (SELECT 1 FROM json_each(tokens.roles) WHERE json_each.value = ?)`;
export const LIVE_HOLDERS_POSTGRES = `SELECT count(*)::int AS n FROM tokens WHERE status <> 'revoked' AND expires_at > $1
  AND roles @> jsonb_build_array($2::text)`;

function samePermissions(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((text, index) => text === b[index]);
}

/** Every role a new token names must exist with exactly the permissions its ceiling was checked against. */
export function checkRolesUnchanged(names: readonly string[], checked: readonly RoleSnapshot[], found: ReadonlyMap<string, readonly string[]>): void {
  for (const name of names) {
    const snapshot = checked.find((role) => role.name === name);
    const current = found.get(name);
    if (snapshot === undefined || current === undefined || !samePermissions(snapshot.permissions, current)) {
      throw new LatchkeyError('conflict', `role ${name} changed while the token was being created; try again`);
    }
  }
}

export function checkRoleChange(before: Role, guard: RoleChangeGuard, liveHolders: () => number): void {
  if (!samePermissions(before.permissions, guard.expected)) {
    throw new LatchkeyError('conflict', `role ${before.name} changed meanwhile; read it again and retry`);
  }
  if (guard.widens) refuseWhileHeld(before.name, liveHolders(), 'widened');
}

export function refuseWhileHeld(name: string, holders: number, what: 'widened' | 'deleted'): void {
  if (holders === 0) return;
  const how = what === 'deleted' ? 'revoke them or let them expire first' : 'only narrowing changes are allowed while it is held; create a new role instead';
  throw new LatchkeyError('conflict', `role ${name} is held by ${holders} live token${holders === 1 ? '' : 's'} and cannot be ${what}: ${how}`);
}
