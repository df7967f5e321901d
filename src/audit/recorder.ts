import type { AuditEventInput } from './event.js';

/**
 * Where gateways hand their decision events. `record` never blocks a request:
 * events are queued and written in batches off the hot path.
 */
export interface AuditRecorder {
  record(event: AuditEventInput): void;
  /**
   * False when events cannot be written and audit.failMode is `closed`: the
   * gateway must then refuse requests with 503 `audit_unavailable`.
   */
  readonly accepting: boolean;
  /** Resolves once every event recorded so far is durable. */
  flush(): Promise<void>;
  /**
   * What a gateway awaits before it completes a response, so that every
   * answered request has a durable event: true once every event recorded so
   * far has committed; false as soon as a write fails (or at once while writes
   * are failing) — it never waits out an outage.
   */
  durable(): Promise<boolean>;
  readonly failMode: AuditFailMode;
  close(): Promise<void>;
}

export type AuditFailMode = 'closed' | 'open';
