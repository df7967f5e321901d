// Audit append throughput, sustained: events recorded as fast as the recorder
// takes them for 10 s (LATCHKEY_BENCH_SECONDS), written through the real
// stores, on SQLite and on PostgreSQL. Side by side in the same run: the
// hash-chain ceiling (linking in memory, no store) and direct appendAudit
// calls with full batches (the store alone, no recorder), so that the
// recorder's own cost is visible, and with batches of a busy gateway's size,
// so that what each commit costs beyond its rows is visible (µs per append
// for both). Goal (issue 10): ≥ 150,000 events/s on
// SQLite and ≥ 60,000/s on PostgreSQL, the chain verified afterwards.
//
// Then SQLite's lookup spans, side by side: a log of 97 tokens appended 27
// events at a time with spans written every 1,024 events (the default) and
// with every append (as before), the appends and the reads by token and by
// time on each.
//
// Events carry the time they are appended, as a gateway's do (its clock only
// moves forward): replaying the same 4,096 times over and over made the time
// index take every insert in the middle of the tree, which no gateway does.
//
//   npm run bench -- audit
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createAuditRecorder } from '../audit/batch-recorder.js';
import { GENESIS_HASH, linkEvents } from '../audit/chain.js';
import type { AuditEventInput } from '../audit/event.js';
import { verifyAudit } from '../audit/verify.js';
import { openPostgresStore, openSqliteStore } from '../store/index.js';
import { DEFAULT_SPAN_EVERY } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 10);
const BASELINE_SECONDS = Math.max(1, Math.min(3, SECONDS));
const PG_ADMIN_URL = process.env.LATCHKEY_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// The producer stops topping up above this many queued events: the figure is
// what the writer sustains, not how fast an array grows.
const HIGH_WATER = 10_000;
/** Events per commit of a gateway under wrk -c32 (the recorder's batches there, counted). */
const GATEWAY_BATCH = 27;

/** Decision events as a busy gateway makes them: varied tokens, paths, outcomes. */
const INPUTS: AuditEventInput[] = Array.from({ length: 4096 }, (_, i) => ({
  kind: 'decision',
  time: 1_700_000_000_000 + i,
  detail: {
    node: 'bench-node',
    tokenId: `tok_${(i % 97).toString(36).padStart(8, '0')}`,
    tokenName: `ci-deploy-${i % 97}`,
    env: 'prod',
    service: ['orders', 'billing', 'search'][i % 3]!,
    action: i % 5 === 0 ? 'POST' : 'GET',
    resource: `/v1/orders/${i}/items`,
    decision: i % 9 === 0 ? 'deny' : 'allow',
    reason: i % 9 === 0 ? 'permission_denied' : 'ok',
    matched: i % 9 === 0 ? null : 'orders:read:/v1/orders/**',
    upstreamStatus: i % 9 === 0 ? null : 200,
    latencyMs: 0.4 + (i % 50) / 10,
    client: `10.1.${i % 256}.${(i * 7) % 256}`,
  },
}));

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')} events/s`;
}

function line(label: string, text: string): void {
  process.stdout.write(`${label.padEnd(58)} ${text}\n`);
}

/** The ceiling: linking (canonical JSON + SHA-256) alone, one core, no store. */
function hashCeiling(): void {
  const batch = INPUTS.slice(0, 1000);
  let count = 0;
  let head = { seq: 0, hash: GENESIS_HASH };
  const start = performance.now();
  while (performance.now() - start < BASELINE_SECONDS * 1000) {
    const linked = linkEvents(head.seq, head.hash, batch);
    const last = linked[linked.length - 1]!;
    head = { seq: last.seq, hash: last.hash };
    count += linked.length;
  }
  line('hash chain only (no store)', rate(count, performance.now() - start));
}

/** An input as the gateway would make it now. */
function stamped(input: AuditEventInput): AuditEventInput {
  return { ...input, time: Date.now() } as AuditEventInput;
}

/** INPUTS as one token's: every event under the first input's token. */
const ONE_TOKEN: AuditEventInput[] = INPUTS.map((input) =>
  input.kind === 'decision' ? { ...input, detail: { ...input.detail, tokenId: 'tok_00000000', tokenName: 'ci-deploy-0' } } : input,
);

/**
 * The store alone: back-to-back appendAudit calls of `size` events (1,000:
 * the recorder's full batch), each of its own token (INPUTS has 97; a batch
 * of 27 then holds 27) or all of one.
 */
async function direct(store: Store, size = 1000, inputs = INPUTS): Promise<string> {
  const batch = inputs.slice(0, size);
  let count = 0;
  let appends = 0;
  const start = performance.now();
  while (performance.now() - start < BASELINE_SECONDS * 1000) {
    count += (await store.appendAudit(batch.map(stamped))).length;
    appends += 1;
    // A turn of the event loop between appends, as any process gives: the SQLite store's WAL restart needs one.
    await new Promise(setImmediate);
  }
  const elapsed = performance.now() - start;
  return `${rate(count, elapsed)}  (${((elapsed * 1000) / appends).toFixed(0)} µs per append)`;
}

/** Through the recorder, as the gateway uses it: record() calls, batches written behind them. */
async function throughRecorder(store: Store): Promise<{ rate: string; recordNs: number; lost: number }> {
  const recorder = createAuditRecorder({ store, failMode: 'closed' });
  let recorded = 0;
  let recordNs = 0n;
  let producing = true;
  const producer = (async () => {
    while (producing) {
      if (recorder.stats().queueDepth < HIGH_WATER) {
        const t = process.hrtime.bigint();
        for (let i = 0; i < 1000; i++) recorder.record(stamped(INPUTS[(recorded + i) & 4095]!));
        recordNs += process.hrtime.bigint() - t;
        recorded += 1000;
      }
      await new Promise(setImmediate);
    }
  })();
  const start = performance.now();
  const writtenBefore = recorder.stats().written;
  await sleep(SECONDS * 1000);
  const written = recorder.stats().written - writtenBefore;
  const elapsed = performance.now() - start;
  producing = false;
  await producer;
  await recorder.close();
  return { rate: rate(written, elapsed), recordNs: Number(recordNs) / recorded, lost: recorder.stats().lost };
}

// The benchmark writes no checkpoints; verifyAudit needs a key all the same.
const VERIFY_KEY = generateKeyPairSync('ed25519').publicKey;

/** What was appended must verify as a whole chain, or the figure above it means nothing. */
async function verified(store: Store): Promise<string> {
  const start = performance.now();
  const result = await verifyAudit(store, { publicKey: VERIFY_KEY });
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  if (!result.ok) throw new Error(`audit chain does not verify: ${result.problem} at seq ${result.seq} (${result.detail})`);
  return `chain verified: ${result.events.toLocaleString('en-US')} events in ${seconds} s`;
}

/** Each measurement gets a fresh, empty store, so neither inherits the other's table size. */
async function benchStore(name: string, open: () => Promise<Store>): Promise<void> {
  const forDirect = await open();
  try {
    line(`${name}: appendAudit, batches of 1,000 (${BASELINE_SECONDS} s)`, await direct(forDirect));
    // A busy gateway's commits: `npm run bench -- gateway` at -c32 commits about 27 events at a time.
    // SQLite writes a span row per token once per 1,024 events, not per append: 27 tokens cost about what one does.
    line(`${name}: appendAudit, batches of ${GATEWAY_BATCH}, 1 token (${BASELINE_SECONDS} s)`, await direct(forDirect, GATEWAY_BATCH, ONE_TOKEN));
    line(`${name}: appendAudit, batches of ${GATEWAY_BATCH}, ${GATEWAY_BATCH} tokens (${BASELINE_SECONDS} s)`, await direct(forDirect, GATEWAY_BATCH));
    line('', await verified(forDirect));
  } finally {
    await forDirect.close();
  }
  const forRecorder = await open();
  try {
    const result = await throughRecorder(forRecorder);
    line(`${name}: through the recorder (${SECONDS} s)`, `${result.rate}  (record() ${result.recordNs.toFixed(0)} ns/event, lost ${result.lost})`);
    line('', await verified(forRecorder));
  } finally {
    await forRecorder.close();
  }
}

/** Events in each log of the lookup-span comparison. */
const SPAN_LOG_EVENTS = Number(process.env.LATCHKEY_BENCH_SPAN_EVENTS ?? 200_000);

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [performance.now() - start, result];
}

/**
 * One log of SPAN_LOG_EVENTS events (INPUTS' 97 tokens, 27 at a time, each
 * append the next 27 of them) with spans every `spanEvery` events: µs per
 * append, then one token's events read in pages of 1,000, a page of 100 from
 * the middle, that token's request summary, and a time window of 500 events.
 */
async function spanLog(file: string, spanEvery: number, label: string): Promise<void> {
  const store = await openSqliteStore({ file, spanEvery, backgroundCheckpoints: true });
  try {
    const base = Date.now();
    const at = (i: number) => ({ ...INPUTS[i % INPUTS.length]!, time: base + i }) as AuditEventInput;
    const [appendMs] = await timed(async () => {
      for (let from = 0; from < SPAN_LOG_EVENTS; from += GATEWAY_BATCH) {
        await store.appendAudit(Array.from({ length: Math.min(GATEWAY_BATCH, SPAN_LOG_EVENTS - from) }, (_, k) => at(from + k)));
      }
    });
    const token = (INPUTS[5]!.detail as { tokenId: string }).tokenId;
    const [allMs, found] = await timed(async () => {
      let count = 0;
      let afterSeq = 0;
      for (;;) {
        const page = await store.readAudit({ tokenId: token, afterSeq, limit: 1000 });
        count += page.length;
        if (page.length < 1000) return count;
        afterSeq = page.at(-1)!.seq;
      }
    });
    const [pageMs] = await timed(() => store.readAudit({ tokenId: token, afterSeq: SPAN_LOG_EVENTS / 2, limit: 100 }));
    const [summaryMs] = await timed(() => store.summarizeRequests({ fromTime: base, toTime: base + SPAN_LOG_EVENTS, tokenId: token }));
    const [windowMs, window] = await timed(() => store.readAudit({ fromTime: base + SPAN_LOG_EVENTS / 2, toTime: base + SPAN_LOG_EVENTS / 2 + 500, limit: 1000 }));
    const appends = Math.ceil(SPAN_LOG_EVENTS / GATEWAY_BATCH);
    line(label, `${((appendMs * 1000) / appends).toFixed(0)} µs per append of ${GATEWAY_BATCH}`);
    line('', `one token: all ${found.toLocaleString('en-US')} events ${allMs.toFixed(0)} ms, a page of 100 ${pageMs.toFixed(1)} ms, its summary ${summaryMs.toFixed(0)} ms`);
    line('', `a time window of ${window.length} events ${windowMs.toFixed(1)} ms`);
  } finally {
    await store.close();
  }
}

export async function runAuditBench(): Promise<void> {
  process.stdout.write(`audit append throughput, sustained; node ${process.version}\n`);
  hashCeiling();

  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-audit-'));
  try {
    let files = 0;
    // Side by side: SQLite's own checkpoints (inside whichever commit fills the WAL), then the worker's, as `serve` runs.
    const inline = await openSqliteStore({ file: join(dir, `latchkey-${files++}.db`) });
    try {
      line(`SQLite, checkpoints inside commits: appendAudit (${BASELINE_SECONDS} s)`, await direct(inline));
    } finally {
      await inline.close();
    }
    await benchStore('SQLite', async () => {
      const store = await openSqliteStore({ file: join(dir, `latchkey-${files++}.db`), backgroundCheckpoints: true });
      await store.migrate();
      return store;
    });
    const events = SPAN_LOG_EVENTS.toLocaleString('en-US');
    process.stdout.write(`SQLite lookup spans, ${events} events of 97 tokens appended ${GATEWAY_BATCH} at a time:\n`);
    await spanLog(join(dir, `latchkey-${files++}.db`), DEFAULT_SPAN_EVERY, `  spans every ${DEFAULT_SPAN_EVERY.toLocaleString('en-US')} events (the default)`);
    await spanLog(join(dir, `latchkey-${files++}.db`), 1, '  spans with every append (the rows written before; baseline)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // Databases of their own, dropped afterwards (as src/test-support/postgres.ts does; that folder is not built).
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    line('PostgreSQL', `skipped: ${(error as Error).message}`);
    return;
  }
  const created: string[] = [];
  try {
    await benchStore('PostgreSQL', async () => {
      const name = `latchkey_bench_${randomBytes(6).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${name}`);
      created.push(name);
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      const store = await openPostgresStore({ url: url.toString() });
      await store.migrate();
      return store;
    });
  } finally {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runAuditBench();
}
