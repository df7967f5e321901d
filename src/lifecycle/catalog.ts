import type { PathMatching } from '../policy/path-matching.js';
import type { PolicyServiceKind, ServiceCatalog } from '../policy/types.js';
import { ADMIN_SERVICE } from '../policy/admin-actions.js';
import type { Store } from '../store/store.js';

/** The services a permission may name, as the store knows them now (admin path only, not the hot path). */
export async function loadServiceCatalog(store: Store): Promise<ServiceCatalog> {
  const kinds = new Map<string, PolicyServiceKind>();
  const paths = new Map<string, PathMatching>();
  for (const service of await store.listServices()) {
    kinds.set(service.name, service.kind);
    paths.set(service.name, service.paths);
  }
  kinds.set(ADMIN_SERVICE, 'latchkey');
  return { kindOf: (name) => kinds.get(name), pathMatchingOf: (name) => paths.get(name) };
}
