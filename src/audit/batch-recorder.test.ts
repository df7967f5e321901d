import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { createAuditRecorder } from './batch-recorder.js';
import type { AuditEvent, AuditEventInput, DecisionDetail } from './event.js';
import type { AuditSink } from './sinks/sink.js';
import { adminInput, decisionInput } from './tamper.contract.js';
import { verifyAudit } from './verify.js';

const publicKey = generateKeyPairSync('ed25519').publicKey;

let dir: string;
let store: Store;
let intruder: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-recorder-'));
  store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
  await store.migrate();
  intruder = new Database(join(dir, 'latchkey.db'));
});

afterEach(async () => {
  intruder.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Makes every insert into the audit table fail, as a full disk or a revoked grant would; returns the undo. */
function makeUnwritable(): () => void {
  intruder.exec(`CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
  return () => intruder.exec('DROP TRIGGER audit_unwritable');
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

async function allEvents(): Promise<AuditEvent[]> {
  return store.readAudit({ limit: 10_000 });
}

/** The ordinal each test event carries in `latencyMs`, to check order. */
const ordinalOf = (e: AuditEvent) => (e.detail as DecisionDetail).latencyMs;
const numbered = (n: number): AuditEventInput => {
  const base = decisionInput(n);
  return { ...base, detail: { ...base.detail, latencyMs: n } };
};

describe('the batch recorder on SQLite', () => {
  test('events recorded concurrently by many requests all land, in the order they were recorded', async () => {
    const recorder = createAuditRecorder({ store, failMode: 'closed', batchSize: 64 });
    let ordinal = 0;
    const request = async () => {
      for (let i = 0; i < 50; i++) {
        recorder.record(numbered(ordinal++));
        if (Math.random() < 0.3) await sleep(Math.random() * 3);
        else await new Promise(setImmediate);
      }
    };
    await Promise.all(Array.from({ length: 40 }, request));
    await recorder.flush();
    const events = await allEvents();
    expect(events).toHaveLength(2000);
    expect(events.map(ordinalOf)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(await verifyAudit(store, { publicKey })).toMatchObject({ ok: true, events: 2000 });
    expect(recorder.stats()).toMatchObject({ written: 2000, lost: 0, writeFailures: 0, queueDepth: 0 });
    await recorder.close();
  });

  test('record does no work on the caller stack: no store call, not even a read of the event', async () => {
    let calls = 0;
    const counting: Pick<Store, 'appendAudit'> = { appendAudit: (events) => (calls++, store.appendAudit(events)) };
    const recorder = createAuditRecorder({ store: counting, failMode: 'closed', batchSize: 10 });
    let reads = 0;
    const watched = new Proxy(decisionInput(1).detail, { get: (target, key) => (reads++, Reflect.get(target, key)) });
    recorder.record({ kind: 'decision', time: 1, detail: watched });
    for (let i = 0; i < 100; i++) recorder.record(decisionInput(i));
    expect({ calls, reads }).toEqual({ calls: 0, reads: 0 });
    await recorder.flush();
    expect(calls).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(0);
    await recorder.close();
  });

  describe('the adaptive hold before a commit someone waits for', () => {
    /** The store's batches, by size, as the recorder hands them over. */
    function countingStore(): { store: Pick<Store, 'appendAudit'>; batches: number[] } {
      const batches: number[] = [];
      return { batches, store: { appendAudit: (events) => (batches.push(events.length), store.appendAudit(events)) } };
    }

    /** One request finishing per turn of the event loop, for `turns` turns, each waiting for its event; resolves when all are durable. */
    async function requestPerTurn(recorder: ReturnType<typeof createAuditRecorder>, turns: number): Promise<boolean[]> {
      const answers: Promise<boolean>[] = [];
      for (let i = 0; i < turns; i++) {
        recorder.record(numbered(i));
        answers.push(recorder.durable());
        await new Promise((resolve) => setImmediate(resolve));
      }
      return Promise.all(answers);
    }

    test('a lone request is written at once: one batch of one event', async () => {
      const { store: counting, batches } = countingStore();
      const recorder = createAuditRecorder({ store: counting, failMode: 'closed', maxHoldMs: 60_000 });
      recorder.record(numbered(1));
      expect(await recorder.durable()).toBe(true);
      expect(batches).toEqual([1]);
      await recorder.close();
    });

    test('while every turn brings another event, they are committed together; with no hold, one commit each', async () => {
      const held = countingStore();
      const recorder = createAuditRecorder({ store: held.store, failMode: 'closed', maxHoldMs: 60_000 });
      expect(await requestPerTurn(recorder, 20)).toEqual(Array(20).fill(true));
      await recorder.close();
      expect(held.batches.reduce((a, b) => a + b, 0)).toBe(20);
      expect(held.batches.length).toBeLessThanOrEqual(2);

      const unheld = countingStore();
      const eager = createAuditRecorder({ store: unheld.store, failMode: 'closed', maxHoldMs: 0 });
      await requestPerTurn(eager, 20);
      await eager.close();
      expect(unheld.batches.length).toBe(20);
      expect((await allEvents()).map(ordinalOf)).toEqual([...Array(20).keys(), ...Array(20).keys()]);
    });

    test('a steady stream is still committed as it goes: the hold ends after maxHoldMs', async () => {
      const { store: counting, batches } = countingStore();
      const recorder = createAuditRecorder({ store: counting, failMode: 'closed', maxHoldMs: 1 });
      let resolvedDuringStream = 0;
      const started = Date.now();
      let i = 0;
      // Events keep arriving every turn for 300 ms: durable() must resolve long before the stream stops.
      while (Date.now() - started < 300) {
        recorder.record(numbered(i++));
        void recorder.durable().then(() => resolvedDuringStream++);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(resolvedDuringStream).toBeGreaterThan(0);
      expect(batches.length).toBeGreaterThan(1);
      await recorder.close();
      expect(batches.reduce((a, b) => a + b, 0)).toBe(i);
    });

    test('a full batch is not held', async () => {
      const { store: counting, batches } = countingStore();
      const recorder = createAuditRecorder({ store: counting, failMode: 'closed', batchSize: 5, maxHoldMs: 60_000 });
      await requestPerTurn(recorder, 12);
      await recorder.close();
      expect(batches.slice(0, 2)).toEqual([5, 5]);
      expect(batches.reduce((a, b) => a + b, 0)).toBe(12);
    });
  });

  test('flush resolves only once the batch holding the last event has committed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: Pick<Store, 'appendAudit'> = { appendAudit: async (events) => (await gate, store.appendAudit(events)) };
    const recorder = createAuditRecorder({ store: slow, failMode: 'closed' });
    recorder.record(decisionInput(1));
    let flushed = false;
    const flushing = recorder.flush().then(() => (flushed = true));
    await sleep(30);
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(await allEvents()).toHaveLength(1);
    await recorder.close();
  });

  test('durable() resolves true once committed, false at once when a write fails, and never waits out an outage', async () => {
    const recorder = createAuditRecorder({ store, failMode: 'closed', flushIntervalMs: 10_000, retryInitialMs: 50 });
    recorder.record(numbered(1));
    // The long batching interval is cut short: a waiter asks for the write now.
    expect(await recorder.durable()).toBe(true);
    expect(await allEvents()).toHaveLength(1);

    const undo = makeUnwritable();
    recorder.record(numbered(2));
    const started = Date.now();
    expect(await recorder.durable()).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    // While failing, answered at once.
    recorder.record(numbered(3));
    expect(await recorder.durable()).toBe(false);
    undo();
    await recorder.flush();
    recorder.record(numbered(4));
    expect(await recorder.durable()).toBe(true);
    expect((await allEvents()).map(ordinalOf)).toEqual([1, 2, 3, 4]);
    await recorder.close();
  });

  test('a transient failure loses nothing and keeps the order; closed mode refuses until a write succeeds', async () => {
    const restore = makeUnwritable();
    const recorder = createAuditRecorder({ store, failMode: 'closed', batchSize: 50, retryInitialMs: 5, retryMaxMs: 20 });
    for (let i = 0; i < 500; i++) recorder.record(numbered(i));
    await waitFor(() => recorder.stats().writeFailures >= 3);
    expect(recorder.accepting).toBe(false);
    for (let i = 500; i < 600; i++) recorder.record(numbered(i));
    restore();
    await recorder.flush();
    expect(recorder.accepting).toBe(true);
    expect((await allEvents()).map(ordinalOf)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(recorder.stats()).toMatchObject({ written: 600, lost: 0 });
    await recorder.close();
  });

  test('closed mode: a closed store makes the recorder refuse', async () => {
    const recorder = createAuditRecorder({ store, failMode: 'closed', retryInitialMs: 5, closeTimeoutMs: 100 });
    await store.close();
    recorder.record(decisionInput(1));
    await waitFor(() => !recorder.accepting);
    expect(recorder.stats().writeFailures).toBeGreaterThan(0);
    store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
    await recorder.close().catch(() => undefined);
  });

  test('closed mode: a full queue refuses before anything is dropped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stuck: Pick<Store, 'appendAudit'> = { appendAudit: async (events) => (await gate, store.appendAudit(events)) };
    const recorder = createAuditRecorder({ store: stuck, failMode: 'closed', maxQueue: 100, batchSize: 10 });
    for (let i = 0; i < 99; i++) recorder.record(numbered(i));
    expect(recorder.accepting).toBe(true);
    recorder.record(numbered(99));
    expect(recorder.accepting).toBe(false);
    release();
    await recorder.flush();
    expect(recorder.accepting).toBe(true);
    expect(recorder.stats()).toMatchObject({ written: 100, lost: 0 });
    await recorder.close();
  });

  test('open mode keeps accepting, drops the oldest beyond maxQueue, and the metrics say so', async () => {
    const restore = makeUnwritable();
    const metrics = new Registry();
    const losses: Array<[number, string]> = [];
    const recorder = createAuditRecorder({ store, failMode: 'open', maxQueue: 100, batchSize: 10, metrics, retryInitialMs: 5, onLoss: (lost, why) => losses.push([lost, why]) });
    for (let i = 0; i < 1000; i++) {
      recorder.record(numbered(i));
      expect(recorder.accepting).toBe(true);
      if (i % 100 === 0) await sleep(2);
    }
    await waitFor(() => recorder.stats().writeFailures >= 2);
    const text = await metrics.metrics();
    expect(text).toMatch(/^latchkey_audit_events_lost_total 900$/m);
    expect(text).toMatch(/^latchkey_audit_queue_depth 100$/m);
    expect(text).toMatch(/^latchkey_audit_write_failures_total [1-9]\d*$/m);
    // The loss is told once per burst (the audit_loss alert), not once per event.
    expect(losses).toEqual([[1, 'queue full']]);
    restore();
    await recorder.flush();
    // The newest 100 survive, in order (the batch in flight when the drops began may be among them).
    const kept = (await allEvents()).map(ordinalOf);
    expect(kept).toHaveLength(100);
    expect(kept).toEqual([...kept].sort((a, b) => a! - b!));
    expect(kept.slice(-90)).toEqual(Array.from({ length: 90 }, (_, i) => 910 + i));
    expect(await metrics.metrics()).toMatch(/^latchkey_audit_events_written_total 100$/m);
    await recorder.close();
  });

  test('a token or a bearer credential in an event is redacted before it is hashed and stored', async () => {
    const recorder = createAuditRecorder({ store, failMode: 'closed' });
    const token = 'lk_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVabcdef';
    const decision = decisionInput(1);
    recorder.record({ ...decision, detail: { ...decision.detail, resource: `/v1/orders?access_token=${token}`, client: 'Bearer eyJhbGciOi.x.y' } });
    const admin = adminInput(2);
    recorder.record({ ...admin, detail: { ...admin.detail, after: { headers: { Authorization: 'Basic YWxpY2U6czNjcmV0', 'X-Trace': token } } } });
    await recorder.close();
    const stored = JSON.stringify(await allEvents());
    expect(stored).not.toContain(token);
    expect(stored).not.toContain('eyJhbGciOi');
    expect(stored).not.toContain('YWxpY2U6czNjcmV0');
    expect(stored).toContain('/v1/orders?access_token=[redacted]');
    expect(await verifyAudit(store, { publicKey })).toMatchObject({ ok: true, events: 2 });
  });

  test('sinks receive committed batches in order, and a failing sink costs nothing in the store', async () => {
    const seen: number[] = [];
    const collecting: AuditSink = { name: 'collect', write: async (events) => void seen.push(...events.map((e) => e.seq)) };
    const broken: AuditSink = { name: 'broken', write: () => Promise.reject(new Error('receiver down')) };
    const metrics = new Registry();
    const recorder = createAuditRecorder({ store, failMode: 'closed', batchSize: 7, sinks: [broken, collecting], metrics });
    for (let i = 0; i < 100; i++) recorder.record(decisionInput(i));
    await recorder.close();
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await allEvents()).toHaveLength(100);
    expect(recorder.stats().sinkFailures).toBeGreaterThan(0);
    expect(await metrics.metrics()).toMatch(/^latchkey_audit_sink_failures_total\{sink="broken"\} [1-9]\d*$/m);
  });

  test('close writes what is queued; close against a dead store gives up after its timeout and counts the loss', async () => {
    const recorder = createAuditRecorder({ store, failMode: 'open', flushIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) recorder.record(decisionInput(i));
    await recorder.close();
    expect(await allEvents()).toHaveLength(10);
    recorder.record(decisionInput(11));
    expect(recorder.stats().lost).toBe(1);

    makeUnwritable();
    const doomed = createAuditRecorder({ store, failMode: 'open', closeTimeoutMs: 100, retryInitialMs: 5 });
    for (let i = 0; i < 10; i++) doomed.record(decisionInput(i));
    await doomed.close();
    expect(doomed.stats()).toMatchObject({ written: 0, lost: 10 });
  });

  test('logs a failure once and the recovery once, through pino, with no event content in the lines', async () => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (chunk: Buffer) => (logged += chunk.toString('utf8')));
    const logger = pino({ level: 'info' }, out);
    const restore = makeUnwritable();
    const recorder = createAuditRecorder({ store, failMode: 'closed', logger, retryInitialMs: 5, retryMaxMs: 10 });
    const token = 'lk_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVabcdef';
    const base = decisionInput(1);
    for (let i = 0; i < 20; i++) recorder.record({ ...base, detail: { ...base.detail, resource: `/event-content-marker/${token}` } });
    await waitFor(() => recorder.stats().writeFailures >= 5);
    restore();
    await recorder.close();
    const lines = logged.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; level: number });
    expect(lines.map((line) => line.msg)).toEqual(['audit writes failing; retrying', 'audit writes recovered']);
    expect(logged).not.toContain(token);
    // A marker no file path holds: stack traces in the log name the checkout's folder.
    expect(logged).not.toContain('/event-content-marker/');
  });
});
