import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { createAuditRecorder, type BatchAuditRecorder } from './batch-recorder.js';
import type { DecisionDetail } from './event.js';
import { OVERFLOW_CLIENT, RefusalSummaries } from './refusal-summary.js';

let dir: string;
let store: Store;
let recorder: BatchAuditRecorder;
let now = 1_767_225_600_000;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-summary-'));
  store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
  await store.migrate();
  recorder = createAuditRecorder({ store, failMode: 'closed' });
});

afterEach(async () => {
  await recorder.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function refusal(reason: string, client: string, resource = '/x'): DecisionDetail {
  return {
    node: 'gw', tokenId: null, tokenName: null, env: 'prod', service: 'orders', action: 'GET', resource,
    decision: 'deny', reason, matched: null, upstreamStatus: null, latencyMs: 0.1, client,
  };
}

async function stored(): Promise<DecisionDetail[]> {
  await recorder.flush();
  return (await store.readAudit({ kind: 'decision', limit: 10_000 })).map((e) => e.detail as DecisionDetail);
}

/** What the stored events stand for, per key: individual events count 1, summaries their `count`. */
function tally(events: readonly DecisionDetail[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) out.set(`${e.reason} ${e.client}`, (out.get(`${e.reason} ${e.client}`) ?? 0) + (e.count ?? 1));
  return out;
}

describe('folding of pre-authentication refusals', () => {
  test('counts every refusal exactly, one event per key while the writer is busy', async () => {
    let folded = 0;
    const summaries = new RefusalSummaries({ recorder, maxKeys: 100, onFolded: () => (folded += 1) });
    const sent = new Map<string, number>();
    // All offered in one turn of the event loop: nothing has been taken by the writer yet.
    for (let i = 0; i < 500; i++) {
      const reason = i % 3 === 0 ? 'token_missing' : 'token_unknown';
      const client = `10.0.0.${i % 4}`;
      now += 1;
      summaries.offer(now, refusal(reason, client, `/try/${i}`));
      sent.set(`${reason} ${client}`, (sent.get(`${reason} ${client}`) ?? 0) + 1);
    }
    const events = await stored();
    expect(tally(events)).toEqual(sent);
    expect(events).toHaveLength(sent.size);
    expect(folded).toBe(500 - sent.size);
    const summary = events.find((e) => e.reason === 'token_missing' && e.client === '10.0.0.0')!;
    expect(summary.resource).toBe('/try/0');
    expect(summary.firstTime).toBeLessThan(now);
    expect(summary.count).toBe(sent.get('token_missing 10.0.0.0'));
  });

  test('what arrives after the writer took an event starts a new one; each is durable before durable() resolves', async () => {
    const summaries = new RefusalSummaries({ recorder, maxKeys: 100 });
    summaries.offer(now, refusal('token_missing', '10.0.0.1', '/first'));
    summaries.offer(now, refusal('token_missing', '10.0.0.1', '/second'));
    expect(await recorder.durable()).toBe(true);
    expect((await store.readAudit({ kind: 'decision', limit: 10 })).map((e) => [(e.detail as DecisionDetail).resource, (e.detail as DecisionDetail).count])).toEqual([['/first', 2]]);
    summaries.offer(now, refusal('token_missing', '10.0.0.1', '/third'));
    expect(await recorder.durable()).toBe(true);
    const events = await stored();
    expect(events.map((e) => [e.resource, e.count])).toEqual([['/first', 2], ['/third', undefined]]);
  });

  test('past maxKeys distinct keys, new clients share one key and stay counted', async () => {
    const summaries = new RefusalSummaries({ recorder, maxKeys: 3 });
    for (let i = 0; i < 200; i++) summaries.offer(now, refusal('token_missing', `10.1.${i >> 8}.${i & 255}`));
    const events = await stored();
    expect(events.reduce((sum, e) => sum + (e.count ?? 1), 0)).toBe(200);
    expect(events).toHaveLength(4);
    expect(events.filter((e) => e.client === OVERFLOW_CLIENT).reduce((sum, e) => sum + (e.count ?? 1), 0)).toBe(197);
  });
});
