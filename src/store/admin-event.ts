import type { AuditEventInput } from '../audit/event.js';
import type { Actor, TokenRecord } from './records.js';
import type { Change } from './store.js';

/** What an administrative change did, as its audit event names it. */
export type AdminEventAction =
  | 'environment.create'
  | 'service.create'
  | 'service.update'
  | 'service.remove'
  | 'role.create'
  | 'role.update'
  | 'role.delete'
  | 'token.create'
  | 'token.revoke'
  | 'token.disable'
  | 'token.enable'
  // Lifecycle: a successor issued, a grant narrowed, and what the scheduler saw (a notice, an expiry).
  | 'token.rotate'
  | 'token.narrow'
  | 'token.update'
  | 'token.expiring'
  | 'token.expired'
  // Reads that tell something about a token, and alarms: audited too, outside any change.
  | 'token.check'
  | 'honeytoken.presented'
  // Leak response: tokens asked about by a scan, and leaks reported (by a scan or GitHub).
  | 'leak.checked'
  | 'leak.reported'
  // The web console: a session opened with an admin token, and closed.
  | 'console.signin'
  | 'console.signout';

export interface AdminChange {
  readonly action: AdminEventAction;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
}

export function adminEvent(actor: Actor, change: AdminChange, time: number): AuditEventInput {
  return {
    kind: 'admin',
    time,
    detail: {
      actor: actor.name,
      actorTokenId: actor.tokenId,
      action: change.action,
      target: change.target,
      before: change.before,
      after: change.after,
    },
  };
}

/**
 * A token as the audit log may show it. The keyed hash is left out: it is not
 * the secret, but with the server key it confirms a guess, so it stays in one table.
 */
export function tokenForAudit(token: TokenRecord): Omit<TokenRecord, 'hash'> {
  const { hash: _hash, ...rest } = token;
  return rest;
}

/**
 * What a mutation hands back to the store that runs it: its result, the change
 * to announce once committed, and the audit event to write in its transaction.
 * Null change and audit mean it found nothing to do.
 */
export interface Mutation<T> {
  readonly result: T;
  readonly change: Change | null;
  readonly audit: AuditEventInput | null;
}
