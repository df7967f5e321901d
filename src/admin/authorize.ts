import { authorizeAdmin } from '../core/authorize.js';
import { LatchkeyError } from '../errors/index.js';
import { ADMIN_SERVICE, type AdminAction } from '../policy/admin-actions.js';
import type { Principal } from './principal.js';

/**
 * Before the body is read: could this token perform the action in any
 * environment at all? A token that never could gets 403 without its input
 * being examined.
 */
export function authorizeAnyEnv(principal: Principal, action: AdminAction): void {
  const applies = (p: { service: string; action: string }) => p.service === ADMIN_SERVICE && (p.action === '*' || p.action === action);
  const perms = principal.grant.permissions;
  const someAllow = perms.some((p) => p.effect === 'allow' && applies(p));
  const denyEverywhere = perms.some((p) => p.effect === 'deny' && applies(p) && p.resource === undefined);
  if (!someAllow || denyEverywhere) {
    throw new LatchkeyError('permission_denied', `this token lacks latchkey:${action}`);
  }
}

/** Once the environment the action touches is known. */
export function authorizeEnv(principal: Principal, action: AdminAction, env: string | undefined): void {
  const decision = authorizeAdmin(principal.grant, action, env);
  if (!decision.allowed) {
    const scope = env === undefined ? '' : ` in environment ${env}`;
    throw new LatchkeyError('permission_denied', `this token lacks latchkey:${action}${scope}`);
  }
}
