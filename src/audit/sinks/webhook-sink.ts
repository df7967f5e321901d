import type { AuditEvent } from '../event.js';
import { postSigned, type SignedPostOptions } from './signed-post.js';
import type { AuditSink } from './sink.js';

// Audit batches POSTed to a receiver (a SIEM, a log pipeline) as
// `{"events":[...]}`, signed with X-Latchkey-Signature. Committed batches
// are gathered for up to `flushIntervalMs` so that a quiet gateway does not
// send one request per event; one request is in flight at a time, so the
// receiver sees events in chain order, and it can drop duplicates of a
// retried request by `seq`.

export interface WebhookSinkOptions extends SignedPostOptions {
  readonly url: string;
  /** Events per request, roughly (whole recorder batches are never split). Default 500. */
  readonly batchSize?: number;
  /** Default 1,000 ms. */
  readonly flushIntervalMs?: number;
  /** Events held while the receiver is down before the oldest are dropped. Default 50,000. */
  readonly maxBuffer?: number;
}

interface Entry {
  readonly events: readonly AuditEvent[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export function createWebhookSink(options: WebhookSinkOptions): AuditSink {
  const batchSize = options.batchSize ?? 500;
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const maxBuffer = options.maxBuffer ?? 50_000;
  const queue: Entry[] = [];
  let buffered = 0;
  let posting: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closing = false;

  function schedule(): void {
    if (posting !== undefined || queue.length === 0) return;
    if (buffered >= batchSize || closing) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      posting = post();
    } else if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        posting = post();
      }, flushIntervalMs);
      timer.unref();
    }
  }

  async function post(): Promise<void> {
    const entries: Entry[] = [];
    let count = 0;
    while (queue.length > 0 && (entries.length === 0 || count + queue[0]!.events.length <= batchSize)) {
      const entry = queue.shift()!;
      entries.push(entry);
      count += entry.events.length;
    }
    buffered -= count;
    const body = JSON.stringify({ events: entries.flatMap((entry) => entry.events) });
    try {
      await postSigned(options.url, body, options);
      for (const entry of entries) entry.resolve();
    } catch (error) {
      for (const entry of entries) entry.reject(error as Error);
    } finally {
      posting = undefined;
      schedule();
    }
  }

  return {
    name: 'webhook',
    write(events: readonly AuditEvent[]): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ events, resolve, reject });
        buffered += events.length;
        // Oldest first: the newest events say most about what is happening now.
        while (buffered > maxBuffer && queue.length > 1) {
          const dropped = queue.shift()!;
          buffered -= dropped.events.length;
          dropped.reject(new Error(`webhook backlog full; ${dropped.events.length} events not delivered`));
        }
        schedule();
      });
    },
    async close(): Promise<void> {
      closing = true;
      schedule();
      while (posting !== undefined) await posting;
    },
  };
}
