import { defaultMaxTtl } from '../admin/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import type { Store } from '../store/store.js';

export const DEFAULT_ENVIRONMENTS = ['prod', 'staging', 'dev'] as const;

/** prod (90-day tokens at most), staging and dev (365 days) exist from the first start. */
export async function ensureDefaultEnvironments(store: Store, now: number): Promise<void> {
  for (const name of DEFAULT_ENVIRONMENTS) {
    if ((await store.getEnvironment(name)) !== undefined) continue;
    try {
      await store.createEnvironment({ name, maxTtlMs: defaultMaxTtl(name), createdAt: now }, SYSTEM_ACTOR);
    } catch (err) {
      // Another process starting at the same moment created it first.
      if ((err as { code?: string }).code !== 'conflict') throw err;
    }
  }
}
