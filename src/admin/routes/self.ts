import { LATCHKEY_VERSION } from '../../config/version.js';
import { LatchkeyError } from '../../errors/index.js';
import { ADMIN_SERVICE } from '../../policy/admin-actions.js';
import type { Role } from '../../store/records.js';
import { route } from '../route.js';
import { tokenView } from '../views.js';

// `latchkey status`: which token the caller holds and what it may do, as
// `gh auth status` tells. It answers only about the calling token, so any
// admin token may ask whatever its permissions; a data-plane token (no
// latchkey: permission at all) is refused, so a leaked one cannot be used
// to learn what it opens.

export const selfRoutes = [
  route({
    method: 'GET', path: '/v1/self', action: 'tokens.read', selfOnly: true, tag: 'tokens', status: 200,
    summary: 'The calling token: its grant with roles expanded, its expiry, and the server version',
    handle: async ({ principal }, { store }) => {
      const record = principal.record;
      const roles = (await Promise.all(record.roles.map((name) => store.getRole(name)))).filter((role): role is Role => role !== undefined);
      const effective = [...new Set([...record.permissions, ...roles.flatMap((role) => role.permissions)])];
      if (!effective.some((permission) => permission.startsWith(`${ADMIN_SERVICE}:`))) {
        throw new LatchkeyError('permission_denied', 'this token holds no latchkey: permission; only admin tokens can ask about themselves');
      }
      return {
        token: tokenView(record),
        effectivePermissions: effective,
        server: { version: LATCHKEY_VERSION },
      };
    },
  }),
];
