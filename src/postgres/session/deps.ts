import type { Logger } from 'pino';
import type { AlertRaiser } from '../../alerts/index.js';
import type { DataPlane } from '../../core/data-plane.js';
import type { PostgresTls } from '../tls.js';
import type { CancelKeys } from './cancel.js';

/** What every session of one listener shares. */
export interface SessionDeps {
  readonly plane: DataPlane;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly cancels: CancelKeys;
  /** Where a honeytoken's use is raised. */
  readonly alerts: AlertRaiser | undefined;
  /** The listener's certificate; undefined: no TLS (SSLRequest answered `N`). */
  readonly tls: PostgresTls | undefined;
}
