import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { TokenHasher } from '../token/index.js';

/** What route handlers may use. The clock is injectable so expiry tests freeze time. */
export interface AdminContext {
  readonly store: Store;
  readonly hasher: TokenHasher;
  readonly logger: Logger;
  readonly now: () => number;
}
