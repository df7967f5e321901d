import type { PolicyServiceKind, ServiceCatalog } from '../policy/types.js';
import { ADMIN_SERVICE } from '../policy/admin-actions.js';
import type { Store } from '../store/store.js';

/** The services a permission may name, as the store knows them now (admin path only, not the hot path). */
export async function loadServiceCatalog(store: Store): Promise<ServiceCatalog> {
  const kinds = new Map<string, PolicyServiceKind>();
  for (const service of await store.listServices()) kinds.set(service.name, service.kind);
  kinds.set(ADMIN_SERVICE, 'latchkey');
  return { kindOf: (name) => kinds.get(name) };
}
