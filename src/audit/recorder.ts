import type { AuditEventInput } from './event.js';

/**
 * Where gateways hand their decision events. `record` never blocks a request:
 * events are queued and written in batches off the hot path.
 */
export interface AuditRecorder {
  record(event: AuditEventInput): void;
  /**
   * Records `event`, or, while an event recorded under the same `key` has not
   * yet been taken into a batch, replaces that one with `merge(queued, event)`.
   * Either way durable() covers it from now on, so a caller that folds still
   * answers only once what it folded into is durable. A new folded event is
   * written within the fold window (default 100 ms) unless something sooner
   * takes it.
   */
  fold(key: string, event: AuditEventInput, merge: (queued: AuditEventInput, next: AuditEventInput) => AuditEventInput): void;
  /** Records an event on the schedule of folded ones: written with the next batch, or within the fold window. */
  recordUnhurried(event: AuditEventInput): void;
  /** Distinct keys of events that can still be folded into (untaken). */
  readonly foldableKeys: number;
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
  /**
   * The same, without hurrying the writer: for answers that can wait so that
   * more refusals fold together. Folded events are written within the
   * recorder's fold window even when nothing else is written.
   */
  durableUnhurried(): Promise<boolean>;
  readonly failMode: AuditFailMode;
  close(): Promise<void>;
}

export type AuditFailMode = 'closed' | 'open';
