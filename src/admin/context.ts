import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { CredentialPolicy, OwnListeners } from '../core/services/index.js';
import type { AlertHandle } from '../alerts/index.js';
import type { GithubKeyRing } from '../leaks/index.js';
import type { LifecycleConfig } from '../config/index.js';
import type { Store } from '../store/store.js';
import type { TokenHasher } from '../token/index.js';

/** What route handlers may use. The clock is injectable so expiry tests freeze time. */
export interface AdminContext {
  readonly store: Store;
  readonly hasher: TokenHasher;
  readonly logger: Logger;
  readonly now: () => number;
  /** The audit checkpoint key's public half, for `audit verify`; absent where no key is loaded. */
  readonly auditPublicKey?: KeyObject;
  /** Absolute: this process's data directory. */
  readonly dataDir?: string;
  /** The credential sources each environment's bindings may name, from the configuration. */
  readonly credentials: CredentialPolicy;
  /** Latchkey's own listeners (with their bound ports), which no upstream may be. */
  readonly ownListeners: OwnListeners;
  // Leak response (issue 14).
  /** GitHub's secret-scanning keys; absent: POST /v1/leaks/github answers 401 to everyone. */
  readonly githubKeys?: GithubKeyRing;
  /** Where leak and honeytoken alerts go; absent: only the log and the audit trail hear of them. */
  readonly alerts?: AlertHandle;
  /** Token lifecycle settings (issue 13): how deep child tokens may go; absent: the defaults. */
  readonly lifecycle?: Pick<LifecycleConfig, 'maxDepth'>;
}
