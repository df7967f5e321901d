// What only the SQLite store promises: the file on disk (WAL included) holds
// hashes and never a plaintext token, its settings persist, and a second
// connection migrating the same file at the same moment is waited for.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { generateToken, TokenHasher } from '../../token/index.js';
import { ALICE, aRole, aToken, allAudit, decisions, T0, withEnvironments } from '../contract/fixtures.js';
import { verifyAudit } from '../../audit/verify.js';
import { openStore } from '../index.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite.js';
import { requestSummaryQuery, sqliteRequestSummaryTailQuery } from '../lifecycle-sql.js';
import { auditReadQuery, sqliteAuditTailQuery } from '../queries.js';
import { openSqliteStore } from './sqlite-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
  dirs.push(dir);
  return join(dir, 'nested', 'data', 'latchkey.db');
}

function fileBytes(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((path) => existsSync(path)).map((path) => readFileSync(path)));
}

describe('sqlite store file', () => {
  it('holds the token hash and never the plaintext, in the database and its WAL', async () => {
    const file = tempFile();
    const store = await openSqliteStore({ file });
    await withEnvironments(store, 'prod');
    const hasher = new TokenHasher(TokenHasher.generateKey());
    const plaintext = generateToken('prod');
    const token = aToken({ hash: hasher.hash(plaintext) });
    await store.createToken(token, ALICE);
    await store.setTokenStatus(token.id, 'disabled', ALICE);

    const whileOpen = fileBytes(file);
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(whileOpen.includes(token.hash)).toBe(true);
    expect(whileOpen.includes(plaintext)).toBe(false);
    expect(whileOpen.includes(plaintext.slice(8, 40))).toBe(false);
    await store.close();
    const afterClose = fileBytes(file);
    expect(afterClose.includes(token.hash)).toBe(true);
    expect(afterClose.includes(plaintext)).toBe(false);
  });

  it('is chosen by openStore for a path, creating its directory, in WAL mode', async () => {
    const file = tempFile();
    const store = await openStore(file);
    expect(store.dialect).toBe('sqlite');
    await store.createRole(aRole('reader'), ALICE);
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT version FROM schema_migrations').all()).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      raw.close();
    }
  });

  it("migrates a file from before token spans: every existing event is found by its token, and the token index is gone", async () => {
    const file = tempFile();
    // Spans with every append, as before they were written in groups.
    const store = await openSqliteStore({ file, spanEvery: 1 });
    await store.migrate();
    await store.appendAudit(decisions(12));
    await store.appendAudit(decisions(9, 12));
    const all = await allAudit(store);
    await store.close();
    // The file as version 5 left it: the index on (token_id, seq), no spans.
    const raw = new Database(file);
    raw.exec("DROP TABLE audit_token_spans; CREATE INDEX audit_events_token ON audit_events (token_id, seq); DELETE FROM schema_migrations WHERE version IN (6, 8)");
    raw.close();
    const migrated = await openSqliteStore({ file });
    try {
      await migrated.migrate();
      const token = 'tok_00000000000000000002';
      const mine = all.filter((event) => event.kind === 'decision' && event.detail.tokenId === token);
      expect(mine).toHaveLength(7);
      expect(await migrated.readAudit({ tokenId: token, limit: 100 })).toEqual(mine);
      expect(await migrated.readAudit({ tokenId: token, afterSeq: mine[2]!.seq, limit: 2 })).toEqual(mine.slice(3, 5));
      // And what is appended after the migration joins them.
      const [next] = await migrated.appendAudit(decisions(1, 2));
      expect(await migrated.readAudit({ tokenId: token, afterSeq: mine.at(-1)!.seq, limit: 100 })).toEqual([next]);
    } finally {
      await migrated.close();
    }
    const check = new Database(file, { readonly: true });
    try {
      // Migration 7 has taken the time index too.
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'").all()).toEqual([]);
    } finally {
      check.close();
    }
  });

  it('migrates a file from before time spans: every existing event is found by its time, and the time index is gone', async () => {
    const file = tempFile();
    // Token spans with every append, as version 6 wrote them.
    const store = await openSqliteStore({ file, spanEvery: 1 });
    await store.migrate();
    // 150 events in appends of 1 to 40, times not in seq order: each append's times run backwards.
    let seq = 0;
    for (const size of [40, 1, 33, 7, 40, 29]) {
      await store.appendAudit(decisions(size, seq).map((event, i) => ({ ...event, time: T0 + seq + size - i })));
      seq += size;
    }
    const all = await allAudit(store);
    await store.close();
    // The file as version 6 left it: the index on time, no time spans.
    const raw = new Database(file);
    raw.exec('DROP TABLE audit_spans; CREATE INDEX audit_events_time ON audit_events (time); DELETE FROM schema_migrations WHERE version = 7');
    raw.close();
    const migrated = await openSqliteStore({ file });
    try {
      await migrated.migrate();
      const expected = (from: number, to: number, afterSeq = 0) => all.filter((e) => e.time >= from && e.time < to && e.seq > afterSeq);
      for (let from = T0 - 2; from <= T0 + 152; from += 7) {
        for (const width of [1, 5, 64, 200]) {
          expect(await migrated.readAudit({ fromTime: from, toTime: from + width, limit: 1000 })).toEqual(expected(from, from + width));
        }
        expect(await migrated.readAudit({ fromTime: from, limit: 1000 })).toEqual(expected(from, Infinity));
        expect(await migrated.readAudit({ toTime: from, afterSeq: 60, limit: 5 })).toEqual(expected(-Infinity, from, 60).slice(0, 5));
      }
      // And what is appended after the migration joins them.
      const [next] = await migrated.appendAudit([{ ...decisions(1, 150)[0]!, time: T0 + 10 }]);
      expect(await migrated.readAudit({ fromTime: T0 + 10, toTime: T0 + 11, limit: 100 })).toEqual([...expected(T0 + 10, T0 + 11), next]);
      const key = generateKeyPairSync('ed25519');
      expect(await verifyAudit(migrated, { publicKey: key.publicKey })).toMatchObject({ ok: true, events: 151 });
    } finally {
      await migrated.close();
    }
    const check = new Database(file, { readonly: true });
    try {
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'").all()).toEqual([]);
      // A span per 64 seqs for what was there; none yet for the event appended after, which waits for a group of appends.
      expect(check.prepare('SELECT first_seq, last_seq FROM audit_spans ORDER BY first_seq').all()).toEqual([
        { first_seq: 1, last_seq: 63 }, { first_seq: 64, last_seq: 127 }, { first_seq: 128, last_seq: 150 },
      ]);
    } finally {
      check.close();
    }
  });

  it('reads by token and by time window by walking spans in seq order, each a range of the key, with no sort', async () => {
    const file = tempFile();
    const store = await openSqliteStore({ file });
    await store.migrate();
    await store.close();
    const raw = new Database(file, { readonly: true });
    const planOf = (query: { sql: string; values: unknown[] }) =>
      raw.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.values).map((row) => (row as { detail: string }).detail);
    const walksKeyRanges = (plan: string[]) => plan.some((step) => /^SEARCH a USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/.test(step));
    // The newest events, past the spans' end: one range of the key, from there on.
    const readsTail = (plan: string[]) => expect(plan[0]).toMatch(/^SEARCH (audit_events|a) USING INTEGER PRIMARY KEY \(rowid>\?\)$/);
    try {
      // A token's spans, from the one holding afterSeq to the spans' end. A sort would read every matching event before the LIMIT applies.
      const tokenFilter = { tokenId: 'tok_1', afterSeq: 5, fromTime: 1, toTime: 9, decision: 'allow', limit: 10 } as const;
      const byToken = planOf(auditReadQuery(tokenFilter, 'sqlite', 1000));
      expect(byToken[0]).toMatch(/^SEARCH s USING PRIMARY KEY \(token_id=\? AND first_seq>\? AND first_seq<\?\)/);
      expect(walksKeyRanges(byToken)).toBe(true);
      expect(byToken.join('\n')).not.toMatch(/TEMP B-TREE/);
      readsTail(planOf(sqliteAuditTailQuery(tokenFilter, 1000)!));
      // The time spans, from the first that reaches the window (the index on max_time finds it) or holds afterSeq.
      for (const filter of [{ fromTime: 1, toTime: 9 }, { fromTime: 1, afterSeq: 5 }, { toTime: 9, afterSeq: 5 }, { toTime: 9 }]) {
        const plan = planOf(auditReadQuery({ ...filter, decision: 'allow', limit: 10 }, 'sqlite', 1000));
        expect(plan[0]).toMatch(filter.fromTime === undefined && filter.afterSeq === undefined ? /^SEARCH s USING INTEGER PRIMARY KEY \(rowid<\?\)$/ : /^SEARCH s USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/);
        expect(walksKeyRanges(plan)).toBe(true);
        if (filter.fromTime !== undefined) expect(plan.some((step) => /USING COVERING INDEX audit_spans_max_time \(max_time>\?\)/.test(step))).toBe(true);
        expect(plan.join('\n')).not.toMatch(/TEMP B-TREE/);
        readsTail(planOf(sqliteAuditTailQuery({ ...filter, decision: 'allow', limit: 10 }, 1000)!));
      }
      // The reports' summary of a window walks the same spans (or the token's), sorting only for its GROUP BY.
      for (const window of [{ fromTime: 1, toTime: 9 }, { fromTime: 1, toTime: 9, tokenId: 'tok_1' }]) {
        const plan = planOf(requestSummaryQuery(window, 'sqlite', 1000));
        expect(plan[0]).toMatch(window.tokenId === undefined ? /^SEARCH s USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/ : /^SEARCH s USING PRIMARY KEY \(token_id=\? AND first_seq<\?\)/);
        expect(walksKeyRanges(plan)).toBe(true);
        expect(plan.filter((step) => /TEMP B-TREE/.test(step))).toEqual(['USE TEMP B-TREE FOR GROUP BY']);
        const tail = planOf(sqliteRequestSummaryTailQuery(window, 1000));
        readsTail(tail);
        expect(tail.filter((step) => /TEMP B-TREE/.test(step))).toEqual(['USE TEMP B-TREE FOR GROUP BY']);
      }
    } finally {
      raw.close();
    }
  });

  // Groups of 16: reads cross from spans to the unspanned newest events at a different point after each append.
  // Of 160: a group holds two of the rare token's events, further apart than one of its spans may stretch.
  it.each([16, 160])('reads the same by token, by time and in summary whether lookup spans are written with every append or once per %i events', async (spanEvery) => {
    // The reference writes spans with every append.
    const reference = await openSqliteStore({ file: tempFile(), spanEvery: 1 });
    const groupedFile = tempFile();
    const grouped = await openSqliteStore({ file: groupedFile, spanEvery });
    // The same group, reopened after every append: its spans come from the events on disk, not from memory.
    const reopenedFile = tempFile();
    let reopened = await openSqliteStore({ file: reopenedFile, spanEvery });
    try {
      let from = 0;
      const sizes = [1, 7, 3, 9, 2, 5, 8, 1, 4, 6, 9, 9, 2, 7, 3, 5, 1, 8, 6, 4, 9, 3];
      for (const size of [...sizes, ...sizes, ...sizes]) {
        // Five tokens and four resources each, times not in seq order: a summary group counts events on both sides.
        // And a rare token, 150 seqs apart: further than a token's span may stretch (TOKEN_SPAN_GAP).
        const inputs = decisions(size, from).map((event, i) => ({
          ...event,
          time: T0 + ((from + i) * 7) % 50,
          detail: { ...event.detail, tokenId: (from + i) % 150 === 7 ? 'tok_rare' : `tok_${(from + i) % 5}`, resource: `/v1/r${(from + i) % 4}` },
        }) as typeof event);
        from += size;
        expect(await grouped.appendAudit(inputs)).toEqual(await reference.appendAudit(inputs));
        await reopened.appendAudit(inputs);
        await reopened.close();
        reopened = await openSqliteStore({ file: reopenedFile, spanEvery });
        const reads = [
          { tokenId: 'tok_1', limit: 100 }, { tokenId: 'tok_2', afterSeq: from - 20, limit: 5 }, { tokenId: 'tok_rare', limit: 10 }, { tokenId: 'tok_3', fromTime: T0 + 10, toTime: T0 + 30, decision: 'allow', limit: 100 },
          { fromTime: T0 + 5, toTime: T0 + 25, limit: 100 }, { fromTime: T0 + 20, afterSeq: from - 30, limit: 7 }, { toTime: T0 + 9, limit: 100 },
        ] as const;
        for (const filter of reads) expect(await grouped.readAudit(filter)).toEqual(await reference.readAudit(filter));
        const summary = async (store: typeof grouped, window: { fromTime: number; toTime: number; tokenId?: string }) =>
          (await store.summarizeRequests(window)).map((r) => JSON.stringify(r)).sort();
        for (const window of [{ fromTime: T0, toTime: T0 + 50 }, { fromTime: T0 + 12, toTime: T0 + 40, tokenId: 'tok_4' }, { fromTime: T0, toTime: T0 + 50, tokenId: 'tok_rare' }]) {
          expect(await summary(grouped, window)).toEqual(await summary(reference, window));
        }
        expect(await grouped.auditLookupGap!()).toBeNull();
      }
      // Counts above one, from events on both sides of the spans' end.
      expect(Math.max(...(await grouped.summarizeRequests({ fromTime: T0, toTime: T0 + 50 })).map((r) => r.count))).toBeGreaterThan(5);
    } finally {
      await reference.close();
      await grouped.close();
      await reopened.close();
    }
    const spans = (file: string) => {
      const raw = new Database(file, { readonly: true });
      try {
        return [raw.prepare('SELECT * FROM audit_spans ORDER BY first_seq').all(), raw.prepare('SELECT * FROM audit_token_spans ORDER BY token_id, first_seq').all()];
      } finally {
        raw.close();
      }
    };
    const [timeSpans, tokenSpans] = spans(groupedFile);
    // At least two groups were spanned, each with the five busy tokens.
    expect(timeSpans!.length).toBeGreaterThanOrEqual(2);
    expect(tokenSpans!.length).toBeGreaterThanOrEqual(2 * 5 + 3);
    // The rare token's events (seqs 8, 158, 308) are each a span of their own, within a group too; the busy ones share one per group.
    expect(tokenSpans!.filter((span) => (span as { token_id: string }).token_id === 'tok_rare').map((span) => (span as { first_seq: number }).first_seq)).toEqual([8, 158, 308]);
    expect(spans(reopenedFile)).toEqual([timeSpans, tokenSpans]);
  });

  it('takes status-change and audit times from the clock it is given', async () => {
    const frozen = 1_800_000_000_000;
    const store = await openSqliteStore({ file: tempFile(), now: () => frozen });
    await withEnvironments(store, 'prod');
    const token = aToken();
    await store.createToken(token, ALICE);
    await store.setTokenStatus(token.id, 'revoked', ALICE);
    expect((await store.getToken(token.id))?.updatedAt).toBe(frozen);
    expect((await store.readAudit({ limit: 10 })).map((event) => event.time)).toEqual([frozen, frozen, frozen]);
    await store.close();
  });

  it('waits for another connection that is migrating the file, then finds nothing left to apply', async () => {
    const file = tempFile();
    mkdirSync(dirname(file), { recursive: true });
    const worker = new Worker(MIGRATING_WORKER, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file, migrations: SQLITE_MIGRATIONS },
    });
    const messages: string[] = [];
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    worker.on('message', (message: string) => messages.push(message));
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    const started = Date.now();
    const store = await openSqliteStore({ file });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await exited;
    expect(messages).toEqual(['locked', 'committed']);
    await store.createRole(aRole('reader'), ALICE);
    expect(await store.getRole('reader')).toEqual(aRole('reader'));
    await store.close();
  });
});

/**
 * Another process in the middle of migrating: it holds the write lock, has
 * applied every migration, and commits 300 ms later.
 */
const MIGRATING_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.exec('BEGIN IMMEDIATE');
db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
for (const migration of workerData.migrations) {
  db.exec(migration.sql);
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(migration.version, migration.name);
}
parentPort.postMessage('locked');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
db.exec('COMMIT');
db.close();
parentPort.postMessage('committed');
`;
