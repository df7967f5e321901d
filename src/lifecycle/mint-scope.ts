import { LatchkeyError } from '../errors/index.js';
import { adminScope, ADMIN_SERVICE, isWithin } from '../policy/index.js';
import type { Permission } from '../policy/types.js';

// What a creator may put into a token it mints. Admin permissions never exceed
// the creator's own. A data permission of service S in environment E needs
// either `latchkey:tokens.create:E:S` (or `E:*`, or an unscoped tokens.create)
// — authority to hand out S — or must be one the creator holds itself, in E.
// So `latchkey:tokens.create:dev` alone passes on only what its holder can use.

/** The creator of a token: its whole effective grant and the environment it belongs to. */
export interface MintAuthority {
  readonly permissions: readonly Permission[];
  readonly env: string;
}

function delegates(authority: MintAuthority, env: string, service: string): boolean {
  return authority.permissions.some((p) => {
    if (p.effect !== 'allow' || p.service !== ADMIN_SERVICE || (p.action !== '*' && p.action !== 'tokens.create')) return false;
    const scope = adminScope(p.resource);
    return (scope.env === undefined || scope.env === env) && (scope.delegates === '*' || scope.delegates === service);
  });
}

/** Throws `permission_denied` naming what the creator could not give. */
export function checkMintScope(granted: readonly Permission[], env: string, creator: MintAuthority): void {
  const admin = granted.filter((p) => p.kind === 'latchkey');
  if (!isWithin(admin, creator.permissions)) {
    throw new LatchkeyError('permission_denied', 'a token cannot be given admin permissions its creator does not hold');
  }
  const own = granted.filter((p) => p.kind !== 'latchkey' && !delegates(creator, env, p.service));
  if (own.length === 0) return;
  const sameEnv = creator.env === env;
  if (sameEnv && isWithin(own, creator.permissions)) return;
  const first = own.find((p) => p.effect === 'allow') ?? own[0]!;
  const where = sameEnv ? '' : ` (the creator belongs to environment ${creator.env}, so it holds nothing in ${env})`;
  throw new LatchkeyError(
    'permission_denied',
    `${first.text}: the creator may hand out only permissions it holds itself${where}; giving any ${first.service} permission in ${env} needs latchkey:tokens.create:${env}:${first.service}`,
  );
}
