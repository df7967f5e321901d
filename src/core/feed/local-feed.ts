import type { Store } from '../../store/store.js';
import type { ChangeFeed, FeedHandlers } from './feed.js';
import { ALWAYS_FRESH } from './feed-health.js';

/** Changes made through this process' own store instance (`latchkey serve` on SQLite). */
export class LocalFeed implements ChangeFeed {
  readonly kind = 'local' as const;
  readonly health = ALWAYS_FRESH;
  #unsubscribe: (() => void) | null = null;

  constructor(private readonly store: Store) {}

  async start(handlers: FeedHandlers): Promise<void> {
    this.#unsubscribe = this.store.onChange((change) => handlers.onChange(change));
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}
