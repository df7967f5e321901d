import type { Logger } from 'pino';
import { compileGrant, parsePermission, type Permission, type ServiceCatalog } from '../../policy/index.js';
import type { CompiledGrant } from '../../policy/types.js';

/**
 * Compiles a token's effective permissions once per cache entry. Permissions
 * were validated when written, but the catalog may have changed since (a
 * service removed or re-kinded): an allow that no longer parses grants
 * nothing, and a deny that no longer parses denies everything, because
 * dropping a deny would widen the token.
 */
export function compileTokenGrant(texts: readonly string[], catalog: ServiceCatalog, logger: Logger): CompiledGrant | null {
  const permissions: Permission[] = [];
  for (const text of texts) {
    try {
      permissions.push(parsePermission(text, catalog));
    } catch (err) {
      if (text.startsWith('!')) {
        logger.error({ permission: text, err: (err as Error).message }, 'a deny permission no longer parses; the token is denied everything');
        return null;
      }
      logger.warn({ permission: text, err: (err as Error).message }, 'an allow permission no longer parses; it grants nothing');
    }
  }
  // The catalog also says how each service matches paths, so its patterns are folded like its requests.
  return compileGrant(permissions, catalog);
}
