import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { Store } from '../store/store.js';
import type { AuditEvent, AuditEventInput } from './event.js';
import type { AuditFailMode, AuditRecorder } from './recorder.js';
import { createAuditMetrics, type AuditRecorderStats } from './recorder-metrics.js';
import type { AuditSink } from './sinks/sink.js';

// The gateway's side of the audit log. `record` only pushes onto an array:
// redaction, hashing and serialization happen in the writer, off the request's
// stack. One batch is in flight at a time, which keeps the events of this
// process in the order they were recorded, and makes the writer a group
// commit: whatever arrives while a batch is being written goes into the next.
//
// An event is durable once its batch commits. A caller that must not answer
// before its event is durable (so that a kill -9 cannot lose the record of a
// request that got a response) awaits flush() after record(): the wait is at
// most one batch, shared by every request waiting at the same moment.

/** The few logger methods the recorder uses; a pino logger fits. */
export interface AuditLogger {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

export interface AuditRecorderOptions {
  readonly store: Pick<Store, 'appendAudit'>;
  readonly failMode: AuditFailMode;
  readonly metrics?: Registry;
  readonly logger?: AuditLogger;
  /** Most events in one transaction. Default 1000. */
  readonly batchSize?: number;
  /** How long a lone event may wait for company before it is written. Default 5 ms. */
  readonly flushIntervalMs?: number;
  /**
   * Longest a commit that someone waits for is held back, one event-loop turn
   * at a time, while more events keep arriving (see holdForCompany). 0: never. Default 1 ms.
   */
  readonly maxHoldMs?: number;
  /** How long a folded event (see fold()) may wait for more to fold into it before it is written. Default 100 ms. */
  readonly foldWindowMs?: number;
  /** Events held in memory before `open` mode drops the oldest and `closed` mode stops accepting. Default 100,000. */
  readonly maxQueue?: number;
  /** Copies of each committed batch, in commit order. close() closes them (closing one twice is harmless). */
  readonly sinks?: readonly AuditSink[];
  /** Backoff between retries of a failed batch: starts here, doubles, caps at `retryMaxMs`. Default 25 ms. */
  readonly retryInitialMs?: number;
  /** Default 2,000 ms. */
  readonly retryMaxMs?: number;
  /** Told of lost events, at most once per 10 s like the log line (for an `audit_loss` alert): the total so far and why. */
  readonly onLoss?: (lost: number, why: string) => void;
  /** How long `close()` waits for the queue to drain before counting what is left as lost. Default 10,000 ms. */
  readonly closeTimeoutMs?: number;
}

export interface BatchAuditRecorder extends AuditRecorder {
  stats(): AuditRecorderStats;
}

interface Waiter {
  readonly target: number;
  readonly resolve: () => void;
}

interface DurableWaiter {
  readonly target: number;
  readonly resolve: (durable: boolean) => void;
}

export function createAuditRecorder(options: AuditRecorderOptions): BatchAuditRecorder {
  const { store, failMode, logger } = options;
  const maxQueue = Math.max(1, options.maxQueue ?? 100_000);
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 1000, maxQueue));
  const flushIntervalMs = options.flushIntervalMs ?? 5;
  const maxHoldMs = options.maxHoldMs ?? 1;
  const foldWindowMs = options.foldWindowMs ?? 100;
  const retryInitialMs = options.retryInitialMs ?? 25;
  const retryMaxMs = options.retryMaxMs ?? 2000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  const sinks = options.sinks ?? [];
  // In closed mode the gateway stops sending once `accepting` is false, so only
  // requests already in flight add events; this cap only guards memory against
  // a caller that ignores `accepting`.
  const hardCap = failMode === 'closed' ? maxQueue * 2 : maxQueue;

  // Events not yet taken by the writer, oldest first, from pendingHead on.
  let pending: AuditEventInput[] = [];
  let pendingHead = 0;
  // The batch taken by the writer: being written, or waiting for a retry.
  let batch: AuditEventInput[] = [];
  let batchHead = 0;
  // Ordinals count every event ever recorded, so that flush() can name "all so far".
  let batchOrdinal = 0;
  let recorded = 0;

  let writing = false;
  let failing = false;
  let retryDelay = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let intervalTimer: NodeJS.Timeout | undefined;
  let foldTimer: NodeJS.Timeout | undefined;
  let immediateScheduled = false;
  // The adaptive hold (holdForCompany): events recorded at the last look, and when the current hold began (-1: none).
  let recordedAtLastTurn = 0;
  let heldSince = -1;
  let closed = false;
  let stopped = false;
  let closing: Promise<void> | undefined;
  let lastDropLog = 0;
  // Events that fold() may still replace: key → ordinal, for events not yet taken by the writer.
  let foldable = new Map<string, number>();
  const waiters: Waiter[] = [];
  const durableWaiters: DurableWaiter[] = [];
  const sinkDeliveries = new Set<Promise<void>>();
  const counts = { written: 0, lost: 0, writeFailures: 0, sinkFailures: 0 };

  const pendingLive = () => pending.length - pendingHead;
  const batchLive = () => batch.length - batchHead;
  const depth = () => pendingLive() + batchLive();
  const accepting = () => failMode === 'open' || (!failing && depth() < maxQueue);
  const metrics = createAuditMetrics(options.metrics, () => ({ queueDepth: depth(), accepting: accepting() }));

  /** Ordinal of the oldest event neither committed nor dropped. */
  function settledThrough(): number {
    return batchLive() > 0 ? batchOrdinal : recorded - pendingLive();
  }

  function settle(): void {
    const through = settledThrough();
    while (waiters.length > 0 && waiters[0]!.target <= through) waiters.shift()!.resolve();
    while (durableWaiters.length > 0 && durableWaiters[0]!.target <= through) durableWaiters.shift()!.resolve(true);
  }

  /** A failed write releases everyone waiting for durability: they must not wait out an outage. */
  function releaseDurableWaiters(): void {
    for (const waiter of durableWaiters.splice(0)) waiter.resolve(false);
  }

  function lose(count: number, why: string): void {
    counts.lost += count;
    metrics.lost(count);
    const now = Date.now();
    // One line per burst, not one per event: a flood of log lines would be its own outage.
    if (now - lastDropLog > 10_000) {
      lastDropLog = now;
      logger?.error({ lost: counts.lost, why }, 'audit events lost');
      options.onLoss?.(counts.lost, why);
    }
  }

  function dropOldest(): void {
    // The batch being written cannot be dropped: its transaction may commit.
    if (!writing && batchLive() > 0) {
      batchHead += 1;
      batchOrdinal += 1;
    } else {
      pendingHead += 1;
    }
    lose(1, failMode === 'open' ? 'queue full' : 'queue full past the closed-mode cap');
    // A dropped event is not durable: nobody waiting may be told it is.
    releaseDurableWaiters();
    settle();
  }

  function scheduleNow(): void {
    if (immediateScheduled || stopped) return;
    immediateScheduled = true;
    setImmediate(onTurn);
  }

  function onTurn(): void {
    immediateScheduled = false;
    if (holdForCompany()) {
      immediateScheduled = true;
      setImmediate(onTurn);
      return;
    }
    pump();
  }

  /**
   * Whether a commit someone is waiting for should wait one more turn of the
   * event loop: only while events keep arriving (each turn brought more, so
   * more requests are finishing right now), the batch is not full, and the
   * first held turn is under `maxHoldMs` old. Each commit costs the same few
   * page writes and locks whatever it holds, so under load this turns many
   * commits of a few events into a few commits of many. A lone request sees
   * no event arrive during its next turn and is written at once, one turn later.
   */
  function holdForCompany(): boolean {
    const arrived = recorded !== recordedAtLastTurn;
    recordedAtLastTurn = recorded;
    if (!arrived || maxHoldMs <= 0 || writing || retryTimer !== undefined || pendingLive() >= batchSize) {
      heldSince = -1;
      return false;
    }
    const now = performance.now();
    if (heldSince < 0) heldSince = now;
    if (now - heldSince < maxHoldMs) return true;
    heldSince = -1;
    return false;
  }

  function scheduleSoon(): void {
    if (intervalTimer !== undefined || immediateScheduled || stopped) return;
    intervalTimer = setTimeout(() => {
      intervalTimer = undefined;
      pump();
    }, flushIntervalMs);
    intervalTimer.unref();
  }

  function takeBatch(): void {
    const n = Math.min(batchSize, pendingLive());
    batchOrdinal = recorded - pendingLive();
    // Redaction and bounding happen where the store links events into the chain (audit/chain.ts).
    batch = pending.slice(pendingHead, pendingHead + n);
    // What was taken is sealed; anything folded from now on starts a new event.
    foldable = new Map();
    batchHead = 0;
    pendingHead += n;
    if (pendingHead === pending.length) {
      pending = [];
      pendingHead = 0;
    } else if (pendingHead > 4096 && pendingHead * 2 > pending.length) {
      pending = pending.slice(pendingHead);
      pendingHead = 0;
    }
  }

  function pump(): void {
    if (writing || retryTimer !== undefined || stopped) return;
    if (intervalTimer !== undefined) {
      clearTimeout(intervalTimer);
      intervalTimer = undefined;
    }
    if (batchLive() === 0) {
      if (pendingLive() === 0) return;
      takeBatch();
    } else if (batchHead > 0) {
      batch = batch.slice(batchHead);
      batchHead = 0;
    }
    writing = true;
    const inputs = batch;
    store.appendAudit(inputs).then(committed, failed).catch((error: unknown) => {
      logger?.error({ err: error }, 'audit writer failed unexpectedly');
    });
  }

  function committed(events: AuditEvent[]): void {
    writing = false;
    const n = batchLive();
    batch = [];
    batchHead = 0;
    counts.written += n;
    metrics.written(n);
    if (failing) logger?.info({ retryDelayMs: retryDelay }, 'audit writes recovered');
    failing = false;
    retryDelay = 0;
    deliver(events);
    settle();
    // Group commit: what piled up during this write goes out at once.
    if (pendingLive() > 0) scheduleNow();
  }

  function failed(error: unknown): void {
    writing = false;
    counts.writeFailures += 1;
    metrics.writeFailure();
    if (!failing) logger?.error({ err: error, failMode }, 'audit writes failing; retrying');
    failing = true;
    releaseDurableWaiters();
    retryDelay = retryDelay === 0 ? retryInitialMs : Math.min(retryDelay * 2, retryMaxMs);
    if (stopped) {
      // close() has given up waiting: this was the last attempt.
      lose(batchLive(), 'closed while the store could not be written');
      batch = [];
      batchHead = 0;
      settle();
      return;
    }
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      pump();
    }, retryDelay);
    retryTimer.unref();
  }

  function deliver(events: AuditEvent[]): void {
    for (const sink of sinks) {
      let delivery: Promise<void>;
      try {
        delivery = sink.write(events);
      } catch (error) {
        delivery = Promise.reject(error);
      }
      const tracked = delivery.catch((error: unknown) => {
        counts.sinkFailures += 1;
        metrics.sinkFailure(sink.name);
        logger?.warn({ err: error, sink: sink.name, events: events.length }, 'audit sink failed; the store copy is intact');
      });
      sinkDeliveries.add(tracked);
      void tracked.finally(() => sinkDeliveries.delete(tracked));
    }
  }

  function flush(): Promise<void> {
    const target = recorded;
    if (settledThrough() >= target) return Promise.resolve();
    return new Promise<void>((resolve) => {
      waiters.push({ target, resolve });
      scheduleNow();
    });
  }

  function durable(): Promise<boolean> {
    const target = recorded;
    if (settledThrough() >= target) return Promise.resolve(true);
    if (failing || stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      durableWaiters.push({ target, resolve });
      // Someone is waiting: write now rather than after the batching interval.
      scheduleNow();
    });
  }

  function durableUnhurried(): Promise<boolean> {
    const target = recorded;
    if (settledThrough() >= target) return Promise.resolve(true);
    if (failing || stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => durableWaiters.push({ target, resolve }));
  }

  async function shutDown(): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timeout = setTimeout(() => resolve('timeout'), closeTimeoutMs);
    });
    await Promise.race([flush(), timedOut]);
    clearTimeout(timeout);
    stopped = true;
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    if (intervalTimer !== undefined) clearTimeout(intervalTimer);
    if (foldTimer !== undefined) clearTimeout(foldTimer);
    retryTimer = intervalTimer = foldTimer = undefined;
    // A batch still being written is settled by its own outcome, not counted here.
    const left = pendingLive() + (writing ? 0 : batchLive());
    if (left > 0) {
      lose(left, 'closed while the store could not be written');
      pending = [];
      pendingHead = 0;
      if (!writing) {
        batch = [];
        batchHead = 0;
      }
      settle();
    }
    releaseDurableWaiters();
    await Promise.allSettled([...sinkDeliveries]);
    await Promise.allSettled(sinks.map((sink) => sink.close?.()));
  }

  /** False when the event was refused (after close). */
  function push(event: AuditEventInput): boolean {
    if (closed) {
      lose(1, 'recorded after close');
      return false;
    }
    pending.push(event);
    recorded += 1;
    if (depth() > hardCap) dropOldest();
    return true;
  }

  function record(event: AuditEventInput): void {
    if (!push(event) || writing || retryTimer !== undefined) return;
    if (pendingLive() >= batchSize) scheduleNow();
    else scheduleSoon();
  }

  function recordUnhurried(event: AuditEventInput): void {
    if (!push(event)) return;
    if (pendingLive() >= batchSize) scheduleNow();
    else scheduleFold();
  }

  /** A folded event waits up to the fold window for company; any earlier batch takes it along. */
  function scheduleFold(): void {
    if (foldTimer !== undefined || stopped) return;
    foldTimer = setTimeout(() => {
      foldTimer = undefined;
      scheduleNow();
    }, foldWindowMs);
    foldTimer.unref();
  }

  return {
    record,
    fold(key, event, merge): void {
      const ordinal = foldable.get(key);
      const firstPending = recorded - pendingLive();
      if (ordinal !== undefined && ordinal >= firstPending && !closed) {
        const index = pendingHead + (ordinal - firstPending);
        pending[index] = merge(pending[index]!, event);
        return;
      }
      foldable.set(key, recorded);
      recordUnhurried(event);
    },
    recordUnhurried,
    get foldableKeys() {
      return foldable.size;
    },
    get accepting() {
      return accepting();
    },
    flush,
    durable,
    durableUnhurried,
    failMode,
    close(): Promise<void> {
      closed = true;
      closing ??= shutDown();
      return closing;
    },
    stats(): AuditRecorderStats {
      return { ...counts, queueDepth: depth(), accepting: accepting() };
    },
  };
}
