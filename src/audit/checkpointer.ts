import { open } from 'node:fs/promises';
import type { AuditCheckpoint, AuditHead, Store } from '../store/store.js';
import type { AuditLogger } from './batch-recorder.js';
import type { AuditEvent } from './event.js';
import { checkpointLine, signCheckpoint, type AuditKey } from './checkpoint.js';
import { postSigned, type SignedPostOptions } from './sinks/signed-post.js';
import type { AuditSink } from './sinks/sink.js';

// Writes a signed checkpoint every `everyEvents` events this process commits
// and every `everyMs` (for the head as the store sees it, which includes other
// nodes' events and the admin events the store writes itself). Each
// checkpoint goes to the store, then to an append-only file outside it, then
// to a webhook: the copies outside the store are what reveal a truncated
// tail, since whoever cuts the tail can delete the store's checkpoints too.
//
// It is an AuditSink so that the recorder hands it each committed batch: the
// last event of a committed batch is a head that certainly exists.

export interface CheckpointerOptions {
  readonly store: Pick<Store, 'auditHead' | 'addCheckpoint'>;
  readonly key: AuditKey;
  /** Default 10,000. */
  readonly everyEvents?: number;
  /** Default 60,000 ms; 0 turns the timer off. */
  readonly everyMs?: number;
  /** JSONL file outside the store that every checkpoint is appended to (and fsynced). */
  readonly file?: string;
  readonly webhook?: { readonly url: string } & SignedPostOptions;
  readonly logger?: AuditLogger;
  readonly now?: () => number;
}

export interface Checkpointer extends AuditSink {
  /** Signs and writes a checkpoint of the store's head now, unless the newest one already covers it. */
  checkpoint(): Promise<AuditCheckpoint | undefined>;
  /** The newest checkpoint this process wrote. */
  readonly last: AuditCheckpoint | undefined;
  /** Stops the timer and checkpoints the head one last time. */
  close(): Promise<void>;
}

export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { store, key, logger } = options;
  const everyEvents = Math.max(1, options.everyEvents ?? 10_000);
  const everyMs = options.everyMs ?? 60_000;
  const now = options.now ?? Date.now;
  let sinceLast = 0;
  let lastSeq = 0;
  let last: AuditCheckpoint | undefined;
  // Checkpoints are written one at a time, so the file's lines are in seq order.
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function write(head: AuditHead): Promise<AuditCheckpoint | undefined> {
    if (head.seq <= lastSeq) return undefined;
    const cp = signCheckpoint(head, key, now());
    await store.addCheckpoint(cp);
    lastSeq = cp.seq;
    last = cp;
    // The store copy is in; a failure of an outside copy is reported but does not undo it.
    const failures: unknown[] = [];
    if (options.file !== undefined) {
      await appendLine(options.file, checkpointLine(cp)).catch((error: unknown) => failures.push(error));
    }
    if (options.webhook !== undefined) {
      await postSigned(options.webhook.url, JSON.stringify({ checkpoint: cp }), options.webhook).catch((error: unknown) =>
        failures.push(error),
      );
    }
    if (failures.length > 0) throw new AggregateError(failures, 'checkpoint stored, but an outside copy failed');
    return cp;
  }

  function enqueue(head: () => Promise<AuditHead> | AuditHead): Promise<AuditCheckpoint | undefined> {
    const next = chain.then(async () => write(await head()));
    chain = next.catch(() => undefined);
    return next;
  }

  const timer =
    everyMs > 0
      ? setInterval(() => {
          enqueue(() => store.auditHead()).catch((error: unknown) => {
            logger?.error({ err: error }, 'audit checkpoint failed');
          });
        }, everyMs)
      : undefined;
  timer?.unref();

  return {
    name: 'checkpoint',
    get last() {
      return last;
    },
    async write(events: readonly AuditEvent[]): Promise<void> {
      const newest = events[events.length - 1];
      if (newest === undefined || closed) return;
      sinceLast += events.length;
      if (sinceLast < everyEvents) return;
      sinceLast = 0;
      await enqueue(() => ({ seq: newest.seq, hash: newest.hash }));
    },
    checkpoint(): Promise<AuditCheckpoint | undefined> {
      return enqueue(() => store.auditHead());
    },
    async close(): Promise<void> {
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      // A last checkpoint of the head, so that a tail cut after a clean shutdown is visible too.
      await enqueue(() => store.auditHead()).catch((error: unknown) => {
        logger?.error({ err: error }, 'final audit checkpoint failed');
      });
    },
  };
}

async function appendLine(file: string, line: string): Promise<void> {
  const handle = await open(file, 'a', 0o600);
  try {
    await handle.write(line);
    // The file is the witness that survives the store; it must survive a crash too.
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
