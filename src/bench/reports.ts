// Reports over 100,000 tokens and 10,000,000 audit events (goal: within 30 s),
// on SQLite, and the choice behind usage counting measured side by side:
//   usage totals  what the gateway's in-memory counts flush to (UsageCounter),
//                 read by the reports: one row per token and permission
//   from audit    the same totals derived from the audit trail (GROUP BY over
//                 every decision of the window)
// plus the hot-path cost of counting one decision in memory.
// The data is bulk-inserted in one transaction (the chain hashes are not
// computed: reports never read them). LATCHKEY_BENCH_EVENTS / _TOKENS resize it.
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

async function timed<T>(label: string, work: () => Promise<T> | T): Promise<T> {
  const started = process.hrtime.bigint();
  const result = await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`${label.padEnd(58)} ${(ms / 1000).toFixed(2).padStart(8)} s\n`);
  return result;
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
    const id = (i: number) => `tok_${i.toString(16).padStart(20, '0')}`;
    await timed(`generate ${TOKENS.toLocaleString()} tokens and ${EVENTS.toLocaleString()} events (one transaction)`, () => {
      const insertToken = db.prepare(`INSERT INTO tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${TOKEN_COLUMNS.map(() => '?').join(', ')})`);
      const insertEvent = db.prepare(`INSERT INTO audit_events (seq, time, kind, token_id, service, decision, reason, detail, prev_hash, hash)
        VALUES (?, ?, 'decision', ?, 'orders', 'allow', 'allowed', ?, '', '')`);
      const addUsage = db.prepare('INSERT INTO token_usage (token_id, permission, count, last_used) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count');
      const base = (db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM audit_events').get() as { seq: number }).seq;
      db.transaction(() => {
        const permissions = JSON.stringify(GRANTED.map((g) => `orders:${g}`));
        for (let i = 0; i < TOKENS; i++) {
          insertToken.run(id(i), `h${i}`, 'lk_prod_…abcd', `bench ${i}`, 'prod', 'bench', '[]', permissions, now + 30 * DAY, null, '[]',
            null, null, null, 'active', null, 0, '{}', now - 60 * DAY, 'bench', now - 60 * DAY);
        }
        // Every tenth token is idle; the others use two of their six permissions.
        const active = Math.max(1, Math.floor(TOKENS * 0.9));
        for (let e = 0; e < EVENTS; e++) {
          const k = e % active;
          const token = id(Math.min(TOKENS - 1, Math.floor(k / 9) * 10 + (k % 9) + 1));
          const post = e % 4 === 0;
          const matched = post ? 'orders:POST:/v1/orders' : 'orders:GET:/v1/orders/**';
          const resource = post ? '/v1/orders' : `/v1/orders/${e % 7}`;
          const time = now - 29 * DAY + Math.floor((e / EVENTS) * 29 * DAY);
          insertEvent.run(base + e + 1, time, token, `{"node":"gw","tokenId":"${token}","tokenName":null,"env":"prod","service":"orders","action":"${post ? 'POST' : 'GET'}","resource":"${resource}","decision":"allow","reason":"allowed","matched":"${matched}","upstreamStatus":200,"latencyMs":1,"client":"10.0.0.1"}`);
          addUsage.run(token, matched, 1, time);
        }
      })();
    });
    db.close();

    const reopened = await openSqliteStore({ file });
    process.stdout.write('\n');
    const unused = await timed('report unused --days 30 (usage totals)', () => unusedReport(reopened, { days: 30, now }));
    const over = await timed('report overprivileged --days 30 (usage totals + audit window)', () => overprivilegedReport(reopened, { days: 30, now }));
    process.stdout.write(`  → ${unused.length.toLocaleString()} unused tokens, ${over.length.toLocaleString()} over-privileged\n\n`);
    const totals = await timed('usage per token+permission: read the flushed totals', () => reopened.listUsage());
    const derived = await timed('usage per token+permission: derived from the audit trail', () => reopened.summarizeRequests({ fromTime: 0, toTime: now + 1 }));
    process.stdout.write(`  → ${totals.length.toLocaleString()} totals rows; ${derived.length.toLocaleString()} grouped audit rows\n\n`);
    await reopened.close();

    const counter = new UsageCounter({ store: reopened, logger: pino({ level: 'silent' }), flushMs: 0 });
    const ids = Array.from({ length: 1000 }, (_, i) => id(i));
    const calls = 5_000_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) counter.count(ids[i % 1000]!, 'orders:GET:/v1/orders/**', now);
    const ns = Number(process.hrtime.bigint() - started) / calls;
    process.stdout.write(`hot path: one decision counted in memory                    ${ns.toFixed(0).padStart(8)} ns (no store round trip)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
