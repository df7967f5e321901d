import type { AuditEvent } from '../event.js';

/**
 * Somewhere committed audit batches are copied to, beyond the store: a file,
 * stdout, a webhook. The recorder calls `write` once per committed batch, in
 * commit order, and never waits for one call before making the next; a sink
 * keeps its own order and bounds its own backlog. A rejected promise is
 * logged and counted; the store copy is already durable, so nothing is lost
 * from the chain.
 */
export interface AuditSink {
  /** Label for metrics and logs: `file`, `stdout`, `webhook`. */
  readonly name: string;
  write(events: readonly AuditEvent[]): Promise<void>;
  /** Delivers what is buffered and releases files and timers. */
  close?(): Promise<void>;
}
