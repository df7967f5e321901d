// Reports over 100,000 tokens and 10,000,000 audit events (goal: within 30 s),
// on SQLite. Usage reaches the store the way a gateway node writes it: each
// event is counted by a UsageCounter and flushed (every simulated hour) through
// Store.addUsageFlush into the totals and the daily rollup of distinct requests,
// which is all the reports read. The audit trail is bulk-inserted in one
// transaction (the chain hashes are not computed: reports never read them).
// Also: the hot-path cost of counting one decision, the counter as it was
// (token and permission only) side by side with today's (which also keeps the
// distinct requests). LATCHKEY_BENCH_EVENTS / _TOKENS resize the data;
// LATCHKEY_BENCH_AUDIT_SCAN=1 also times the audit-trail scan the
// over-privileged report used to make (about a minute at full size).
// Run: `npm run bench -- reports`.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { overprivilegedReport, unusedReport } from '../reports/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { TOKEN_COLUMNS } from '../store/rows.js';
import { UsageCounter } from '../usage/index.js';

const TOKENS = Number(process.env.LATCHKEY_BENCH_TOKENS ?? 100_000);
const EVENTS = Number(process.env.LATCHKEY_BENCH_EVENTS ?? 10_000_000);
const DAY = 86_400_000;
const GRANTED = ['GET:/v1/orders/**', 'POST:/v1/orders', 'DELETE:/v1/orders/*', 'GET:/v1/users/**', 'PUT:/v1/orders/*', 'GET:/v1/invoices/**'];

const AUDIT_SCAN = process.env.LATCHKEY_BENCH_AUDIT_SCAN === '1';
const HOUR = 3_600_000;

async function timed<T>(label: string, work: () => Promise<T> | T): Promise<T> {
  const started = process.hrtime.bigint();
  const result = await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`${label.padEnd(64)} ${(ms / 1000).toFixed(2).padStart(8)} s\n`);
  return result;
}

const id = (i: number) => `tok_${i.toString(16).padStart(20, '0')}`;

interface BenchEvent {
  readonly token: string;
  readonly post: boolean;
  readonly matched: string;
  readonly resource: string;
  readonly time: number;
}

/** Event e of the generated month: every tenth token is idle; the others use one or two of their six permissions. */
function eventAt(e: number, now: number): BenchEvent {
  const active = Math.max(1, Math.floor(TOKENS * 0.9));
  const k = e % active;
  const post = e % 4 === 0;
  return {
    token: id(Math.min(TOKENS - 1, Math.floor(k / 9) * 10 + (k % 9) + 1)),
    post,
    matched: post ? 'orders:POST:/v1/orders' : 'orders:GET:/v1/orders/**',
    resource: post ? '/v1/orders' : `/v1/orders/${e % 7}`,
    time: now - 29 * DAY + Math.floor((e / EVENTS) * 29 * DAY),
  };
}

export async function runReportsBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-reports-'));
  const file = join(dir, 'latchkey.db');
  const now = Date.now();
  try {
    const store = await openSqliteStore({ file });
    await store.createEnvironment({ name: 'prod', maxTtlMs: 365 * DAY, createdAt: now }, SYSTEM_ACTOR).catch(() => {});
    await store.createService({
      name: 'orders', kind: 'http', bindings: [{ env: 'prod', upstream: 'http://127.0.0.1:9', credential: { from: 'none' } }],
      tokenHeader: null, maxBodyBytes: 1024, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now,
    }, SYSTEM_ACTOR);
    await store.close();

    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    await timed(`generate ${TOKENS.toLocaleString()} tokens and ${EVENTS.toLocaleString()} audit events (one transaction)`, () => {
      const insertToken = db.prepare(`INSERT INTO tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${TOKEN_COLUMNS.map(() => '?').join(', ')})`);
      const insertEvent = db.prepare(`INSERT INTO audit_events (seq, time, kind, token_id, service, decision, reason, detail, prev_hash, hash)
        VALUES (?, ?, 'decision', ?, 'orders', 'allow', 'allowed', ?, '', '')`);
      const base = (db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM audit_events').get() as { seq: number }).seq;
      db.transaction(() => {
        const permissions = JSON.stringify(GRANTED.map((g) => `orders:${g}`));
        for (let i = 0; i < TOKENS; i++) {
          insertToken.run(id(i), `h${i}`, 'lk_prod_…abcd', `bench ${i}`, 'prod', 'bench', '[]', permissions, now + 30 * DAY, null, '[]',
            null, null, null, 'active', null, 0, '{}', now - 60 * DAY, 'bench', now - 60 * DAY);
        }
        for (let e = 0; e < EVENTS; e++) {
          const { token, post, matched, resource, time } = eventAt(e, now);
          insertEvent.run(base + e + 1, time, token, `{"node":"gw","tokenId":"${token}","tokenName":null,"env":"prod","service":"orders","action":"${post ? 'POST' : 'GET'}","resource":"${resource}","decision":"allow","reason":"allowed","matched":"${matched}","upstreamStatus":200,"latencyMs":1,"client":"10.0.0.1"}`);
        }
        // The store finds events by time and by token through spans (migrations 6 and 7): one per 64 seqs, as a migration makes them.
        db.prepare('INSERT INTO audit_spans (first_seq, last_seq, min_time, max_time) SELECT min(seq), max(seq), min(time), max(time) FROM audit_events WHERE seq > ? GROUP BY seq / 64').run(base);
        db.prepare(`INSERT INTO audit_token_spans (token_id, first_seq, last_seq, min_time, max_time)
          SELECT token_id, min(seq), max(seq), min(time), max(time) FROM audit_events WHERE seq > ? AND token_id IS NOT NULL GROUP BY token_id, seq / 64`).run(base);
      })();
    });
    db.close();

    const reopened = await openSqliteStore({ file });
    // The same events through a gateway's usage counter, flushed every simulated hour with the flush a node runs.
    let clock = now - 29 * DAY;
    const counter = new UsageCounter({ store: reopened, logger: pino({ level: 'silent' }), flushMs: 0, clock: () => clock });
    let flushes = 0;
    await timed('count the events and flush them (UsageCounter → addUsageFlush)', async () => {
      let nextFlush = clock + HOUR;
      for (let e = 0; e < EVENTS; e++) {
        const { token, post, matched, resource, time } = eventAt(e, now);
        if (time >= nextFlush) {
          clock = time;
          await counter.flush();
          flushes++;
          nextFlush = time + HOUR;
        }
        counter.count(token, matched, 'orders', post ? 'POST' : 'GET', resource, time);
      }
      clock = now;
      await counter.close();
      flushes++;
    });
    const rollupRows = countRows(file);
    process.stdout.write(`  → ${flushes.toLocaleString()} flushes; ${rollupRows.toLocaleString()} rollup rows (distinct request per token, permission and day)\n\n`);

    const unused = await timed('report unused --days 30 (usage totals)', () => unusedReport(reopened, { days: 30, now }));
    const over = await timed('report overprivileged --days 30 (usage totals + daily rollup)', () => overprivilegedReport(reopened, { days: 30, now }));
    process.stdout.write(`  → ${unused.length.toLocaleString()} unused tokens, ${over.length.toLocaleString()} over-privileged\n`);
    const seen = await timed('  of which: the rollup of the window, read distinct', () => reopened.listSeenRequests({ fromDay: Math.floor((now - 30 * DAY) / DAY), toDay: Math.floor(now / DAY) }));
    process.stdout.write(`  → ${seen.requests.length.toLocaleString()} distinct requests per token and permission\n`);
    if (AUDIT_SCAN) {
      const derived = await timed('baseline: the same from the audit trail (what the report used to scan)', () => reopened.summarizeRequests({ fromTime: now - 30 * DAY, toTime: now + 1 }));
      process.stdout.write(`  → ${derived.length.toLocaleString()} grouped audit rows\n`);
    } else {
      process.stdout.write('  (the audit-trail scan the report used to make: LATCHKEY_BENCH_AUDIT_SCAN=1 times it)\n');
    }
    await reopened.close();
    process.stdout.write('\n');
    hotPath(now);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function countRows(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM token_usage_seen').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The counter before the rollup, for the side-by-side: a map increment per token and permission. */
class TotalsOnlyCounter {
  readonly #pending = new Map<string, Map<string, { count: number; lastUsed: number }>>();

  count(tokenId: string, permission: string, time: number): void {
    let byPermission = this.#pending.get(tokenId);
    if (byPermission === undefined) {
      byPermission = new Map();
      this.#pending.set(tokenId, byPermission);
    }
    const pending = byPermission.get(permission);
    if (pending === undefined) byPermission.set(permission, { count: 1, lastUsed: time });
    else {
      pending.count++;
      if (time > pending.lastUsed) pending.lastUsed = time;
    }
  }
}

/** ns per count() call: 1,000 tokens, each asking one of 7 paths (the steady state: every request seen before today), 5 alternating rounds, median. */
function hotPath(now: number): void {
  const ids = Array.from({ length: 1000 }, (_, i) => id(i));
  const paths = Array.from({ length: 7 }, (_, i) => `/v1/orders/${i}`);
  // Never flushed, so no store is needed: a stand-in that is never called.
  const noStore = {} as ConstructorParameters<typeof UsageCounter>[0]['store'];
  const calls = 5_000_000;
  const before = new TotalsOnlyCounter();
  const after = new UsageCounter({ store: noStore, logger: pino({ level: 'silent' }), flushMs: 0, clock: () => now });
  const distinct = new UsageCounter({ store: noStore, logger: pino({ level: 'silent' }), flushMs: 0, clock: () => now });
  const distinctPaths = Array.from({ length: 4096 }, (_, i) => `/v1/orders/${i}/items`);
  const rounds: Record<'before' | 'after' | 'distinct', number[]> = { before: [], after: [], distinct: [] };
  const run = (work: (i: number) => void) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) work(i);
    return Number(process.hrtime.bigint() - started) / calls;
  };
  for (let round = 0; round < 5; round++) {
    rounds.before.push(run((i) => before.count(ids[i % 1000]!, 'orders:GET:/v1/orders/**', now)));
    rounds.after.push(run((i) => after.count(ids[i % 1000]!, 'orders:GET:/v1/orders/**', 'orders', 'GET', paths[i % 7]!, now)));
    rounds.distinct.push(run((i) => distinct.count(ids[i % 1000]!, 'orders:GET:/v1/orders/**', 'orders', 'GET', distinctPaths[i % 4096]!, now)));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!.toFixed(0).padStart(8);
  process.stdout.write(`hot path, ns per decision counted in memory (median of 5 rounds of ${calls.toLocaleString()}; no store round trip):\n`);
  process.stdout.write(`  before: totals only (token, permission)                      ${median(rounds.before)} ns\n`);
  process.stdout.write(`  now: totals + distinct requests of the day, all seen before   ${median(rounds.after)} ns\n`);
  process.stdout.write(`  now: every token asking ever-new paths (bound passed)         ${median(rounds.distinct)} ns\n`);
}
