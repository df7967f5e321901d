import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { loadOrCreateAuditKey, signCheckpoint, type AuditKey } from './checkpoint.js';
import { followAuditEvents, readAuditEvents } from './read.js';
import { pruneBefore, pruneOlderThan } from './retention.js';
import { decisionInput } from './tamper.contract.js';
import { verifyAudit } from './verify.js';

let dir: string;
let store: Store;
let key: AuditKey;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-retention-'));
  store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
  await store.migrate();
  key = await loadOrCreateAuditKey(dir);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Appends `count` events and checkpoints the new head at `time`. */
async function appendAndCheckpoint(count: number, time: number) {
  const events = await store.appendAudit(Array.from({ length: count }, (_, i) => decisionInput(i)));
  const last = events[events.length - 1]!;
  const cp = signCheckpoint({ seq: last.seq, hash: last.hash }, key, time);
  await store.addCheckpoint(cp);
  return cp;
}

describe('retention', () => {
  test('pruning by age cuts at the newest checkpoint older than the cutoff, and the chain still verifies', async () => {
    await appendAndCheckpoint(100, 1_000);
    await appendAndCheckpoint(100, 2_000);
    await appendAndCheckpoint(100, 3_000);
    expect(await pruneOlderThan(store, 2_500, { publicKey: key.publicKey })).toBe(200);
    expect(await verifyAudit(store, { publicKey: key.publicKey })).toMatchObject({ ok: true, firstSeq: 201, events: 100 });
    expect(await pruneOlderThan(store, 500)).toBe(0);
  });

  test('pruning at the head keeps the last event, which anchors itself', async () => {
    const cp = await appendAndCheckpoint(50, 1_000);
    expect(await pruneBefore(store, cp)).toBe(49);
    expect(await verifyAudit(store, { publicKey: key.publicKey })).toMatchObject({ ok: true, firstSeq: 50, lastSeq: 50 });
    await store.appendAudit([decisionInput(51)]);
    expect(await verifyAudit(store, { publicKey: key.publicKey })).toMatchObject({ ok: true, firstSeq: 50, lastSeq: 51 });
  });

  test('refuses a checkpoint the chain does not pass through, or one signed by another key', async () => {
    const cp = await appendAndCheckpoint(10, 1_000);
    await expect(pruneBefore(store, { ...cp, hash: 'c'.repeat(64) })).rejects.toMatchObject({ code: 'conflict' });
    await expect(pruneBefore(store, { ...cp, time: 5 }, { publicKey: key.publicKey })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await store.readAudit({ limit: 100 })).toHaveLength(10);
  });

  test('a checkpoint from outside the store is added to it before pruning, so the anchor is kept', async () => {
    const events = await store.appendAudit(Array.from({ length: 30 }, (_, i) => decisionInput(i)));
    const outside = signCheckpoint({ seq: 20, hash: events[19]!.hash }, key);
    expect(await pruneBefore(store, outside, { publicKey: key.publicKey })).toBe(20);
    expect(await store.listCheckpoints(10)).toEqual([outside]);
    expect(await verifyAudit(store, { publicKey: key.publicKey })).toMatchObject({ ok: true, firstSeq: 21 });
  });
});

describe('paged reads', () => {
  test('readAuditEvents pages through everything with a filter and a total limit', async () => {
    await store.appendAudit(Array.from({ length: 2500 }, (_, i) => decisionInput(i)));
    const all: number[] = [];
    for await (const e of readAuditEvents(store, {}, 300)) all.push(e.seq);
    expect(all).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    const denied: number[] = [];
    for await (const e of readAuditEvents(store, { decision: 'deny', limit: 70 }, 32)) denied.push(e.seq);
    expect(denied).toHaveLength(70);
    expect(denied.every((seq) => (seq - 1) % 4 === 0)).toBe(true);
  });

  test('followAuditEvents yields new events as they are appended, until aborted', async () => {
    await store.appendAudit([decisionInput(0)]);
    const controller = new AbortController();
    const seen: number[] = [];
    const following = (async () => {
      for await (const e of followAuditEvents(store, {}, { intervalMs: 10, signal: controller.signal })) {
        seen.push(e.seq);
        if (seen.length === 5) controller.abort();
      }
    })();
    for (let i = 1; i <= 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 15));
      await store.appendAudit([decisionInput(i)]);
    }
    await following;
    expect(seen).toEqual([2, 3, 4, 5, 6]);
  });
});
