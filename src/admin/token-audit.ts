import type { Logger } from 'pino';
import type { AlertRaiser } from '../alerts/index.js';
import { redactHeaders } from '../audit/index.js';
import { LatchkeyError } from '../errors/index.js';
import { adminEvent, type AdminChange } from '../store/admin-event.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

// Admin-API events that change nothing but must be on the record: a token
// looked at through /v1/check, and a honeytoken presented anywhere (an alarm).

/** Who presented a token when no admin token was accepted. */
export const ANONYMOUS: Actor = { tokenId: null, name: 'anonymous' };

/** Written before the answer; when the audit log cannot take it, the request fails closed. */
export async function auditRead(store: Store, actor: Actor, change: AdminChange, now: number): Promise<void> {
  try {
    await store.appendAudit([adminEvent(actor, change, now)]);
  } catch {
    throw new LatchkeyError('audit_unavailable');
  }
}

/** The request a honeytoken came with, for the alert: its credentials are redacted before it is raised. */
export interface PresentedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * The caller is told only "unknown"; the operator is told at once, in the log
 * and the audit trail, which honeytoken was used, where and from which address.
 */
export async function honeytokenAlarm(
  context: { readonly store: Store; readonly logger: Logger; readonly alerts?: AlertRaiser | undefined },
  record: TokenRecord,
  via: 'admin_api' | 'check',
  actor: Actor,
  client: string,
  now: number,
  request?: PresentedRequest,
): Promise<void> {
  context.logger.warn({ tokenId: record.id, tokenName: record.name, client, via }, `honeytoken presented to the ${via === 'check' ? '/v1/check route' : 'admin API'}`);
  context.alerts?.raise('honeytoken_used', {
    via, client, tokenId: record.id, tokenName: record.name, env: record.env, owner: record.owner, actor: actor.name,
    ...(request !== undefined && { method: request.method, path: request.path.split('?')[0], headers: redactHeaders(request.headers) }),
  });
  // Not awaited: an unknown token's answer waits for no write, and a honeytoken's must not be told apart by its timing.
  auditRead(context.store, actor, { action: 'honeytoken.presented', target: record.id, before: null, after: { via, client, tokenName: record.name } }, now).catch(() => {
    context.logger.error({ tokenId: record.id, via }, 'the honeytoken alarm could not be written to the audit trail');
  });
}
