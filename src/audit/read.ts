import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditFilter, Store } from '../store/store.js';
import type { AuditEvent } from './event.js';

// Paged reads of the audit log, for export, `audit query` and `audit tail -f`.
// Pages are keyed by seq (afterSeq), never by offset, so events appended while
// reading neither repeat nor shift the pages.

/** An AuditFilter whose limit is the total to return (none: all), not a page size. */
export type AuditReadFilter = Omit<AuditFilter, 'limit'> & { readonly limit?: number };

/** The largest page the stores return (MAX_AUDIT_PAGE); smaller pages keep memory flat. */
export const AUDIT_PAGE_SIZE = 1000;

/** Yields matching events in seq order, reading `pageSize` at a time. */
export async function* readAuditEvents(
  store: Pick<Store, 'readAudit'>,
  filter: AuditReadFilter = {},
  pageSize: number = AUDIT_PAGE_SIZE,
): AsyncGenerator<AuditEvent> {
  let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
  let afterSeq = filter.afterSeq;
  while (remaining > 0) {
    const limit = Math.min(pageSize, remaining);
    const page = await store.readAudit({ ...filter, ...(afterSeq === undefined ? {} : { afterSeq }), limit });
    // Only an empty page is the end: a store may return fewer than asked (it caps pages).
    if (page.length === 0) return;
    for (const event of page) yield event;
    remaining -= page.length;
    afterSeq = page[page.length - 1]!.seq;
  }
}

export interface FollowOptions {
  /** Start after this seq; default: the current head, so only new events are shown. */
  readonly afterSeq?: number;
  /** Poll interval when caught up. Default 500 ms. */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * `audit tail -f`: yields matching events as they are appended, until `signal`
 * aborts. Polling, because events from other gateway nodes arrive through the
 * store, and a poll every half second costs one indexed query.
 */
export async function* followAuditEvents(
  store: Pick<Store, 'readAudit' | 'auditHead'>,
  filter: Omit<AuditReadFilter, 'afterSeq' | 'limit'> = {},
  options: FollowOptions = {},
): AsyncGenerator<AuditEvent> {
  const intervalMs = options.intervalMs ?? 500;
  let afterSeq = options.afterSeq ?? (await store.auditHead()).seq;
  while (options.signal?.aborted !== true) {
    let seen = 0;
    for await (const event of readAuditEvents(store, { ...filter, afterSeq })) {
      afterSeq = event.seq;
      seen += 1;
      yield event;
    }
    if (seen === 0) {
      try {
        await sleep(intervalMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
      } catch {
        return;
      }
    }
  }
}
