// The rules of a token status change, shared by both stores: what is allowed,
// in what order the changed ids are reported, and the audit event it writes.
import type { AuditEventInput } from '../audit/event.js';
import { LatchkeyError, invalid, notFound } from '../errors/index.js';
import { adminEvent, tokenForAudit } from './admin-event.js';
import type { Actor, TokenRecord, TokenStatus } from './records.js';

export function alreadyExists(what: string): LatchkeyError {
  return new LatchkeyError('conflict', `${what} already exists`);
}

/** Throws unless `token` exists and may be moved to `status`. Revocation is final. */
export function checkStatusChange(id: string, token: TokenRecord | undefined, status: TokenStatus): TokenRecord {
  if (token === undefined) throw notFound(`token ${id}`);
  if (token.status === 'revoked' && status !== 'revoked') {
    throw new LatchkeyError('conflict', `token ${id} is revoked, and revocation is final`);
  }
  return token;
}

/** A child token may be created only under a parent that exists and is not revoked. */
export function checkParent(parentId: string, parentStatus: TokenStatus | undefined): void {
  if (parentStatus === undefined) throw invalid('parentId', `token ${parentId} does not exist`);
  if (parentStatus === 'revoked') throw new LatchkeyError('conflict', `parent token ${parentId} is revoked`);
}

/** The target first (when it changed), then its descendants in id order, so results are reproducible. */
export function orderChangedIds(targetId: string, ids: readonly string[]): string[] {
  const rest = ids.filter((id) => id !== targetId).sort();
  return ids.includes(targetId) ? [targetId, ...rest] : rest;
}

const ACTIONS = { revoked: 'token.revoke', disabled: 'token.disable', active: 'token.enable' } as const;

export function statusChangeEvent(
  actor: Actor,
  token: TokenRecord,
  status: TokenStatus,
  changedIds: readonly string[],
  time: number,
): AuditEventInput {
  const before = tokenForAudit(token);
  const targetChanged = changedIds.includes(token.id);
  const after = {
    ...before,
    status,
    updatedAt: targetChanged ? time : token.updatedAt,
    cascaded: changedIds.filter((id) => id !== token.id),
  };
  return adminEvent(actor, { action: ACTIONS[status], target: token.id, before, after }, time);
}
