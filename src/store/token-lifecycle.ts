// The rules of rotation and narrowing, shared by both stores: what may be
// rotated or narrowed, and the audit events they write.
import type { AuditEventInput } from '../audit/event.js';
import { LatchkeyError, notFound } from '../errors/index.js';
import { adminEvent, tokenForAudit } from './admin-event.js';
import type { Actor, TokenRecord } from './records.js';

/** Throws unless the predecessor exists, is not revoked, and has not been rotated already. */
export function checkRotation(id: string, token: TokenRecord | undefined, successorOf: string | null): TokenRecord {
  if (token === undefined) throw notFound(`token ${id}`);
  if (token.status === 'revoked') throw new LatchkeyError('conflict', `token ${id} is revoked`);
  if (successorOf !== null) throw new LatchkeyError('conflict', `token ${id} was already rotated to ${successorOf}`);
  return token;
}

export function rotationEvent(actor: Actor, predecessor: TokenRecord, successor: TokenRecord, graceUntil: number, revoked: readonly string[], time: number): AuditEventInput {
  return adminEvent(actor, {
    action: 'token.rotate',
    target: predecessor.id,
    before: { id: predecessor.id, expiresAt: predecessor.expiresAt },
    after: { successor: tokenForAudit(successor), graceUntil, expiresAt: Math.min(predecessor.expiresAt, graceUntil), revoked },
  }, time);
}

export function checkNarrow(id: string, token: TokenRecord | undefined): TokenRecord {
  if (token === undefined) throw notFound(`token ${id}`);
  if (token.status === 'revoked') throw new LatchkeyError('conflict', `token ${id} is revoked`);
  return token;
}

/** What `token update` may change: the token's constraints, never its grant (narrowing is `narrow`). */
export type TokenConstraints = Pick<TokenRecord, 'expiresAt' | 'cidrs' | 'rate' | 'maxUses'>;

export function constraintValues(c: TokenConstraints, time: number, id: string): unknown[] {
  return [c.expiresAt, JSON.stringify(c.cidrs), c.rate?.count ?? null, c.rate?.periodMs ?? null, c.maxUses, time, id];
}

export function constraintsEvent(actor: Actor, before: TokenRecord, after: TokenRecord, time: number): AuditEventInput {
  const shown = (t: TokenRecord) => ({ expiresAt: t.expiresAt, cidrs: t.cidrs, rate: t.rate, maxUses: t.maxUses });
  return adminEvent(actor, { action: 'token.update', target: before.id, before: shown(before), after: shown(after) }, time);
}

export function narrowEvent(actor: Actor, before: TokenRecord, after: TokenRecord, time: number): AuditEventInput {
  return adminEvent(actor, {
    action: 'token.narrow',
    target: before.id,
    before: { roles: before.roles, permissions: before.permissions },
    after: { roles: after.roles, permissions: after.permissions },
  }, time);
}
