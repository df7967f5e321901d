import type { Logger } from 'pino';
import type { DataPlane } from '../../core/data-plane.js';
import type { CancelKeys } from './cancel.js';

/** What every session of one listener shares. */
export interface SessionDeps {
  readonly plane: DataPlane;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly cancels: CancelKeys;
}
