import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import { decisionInput, runTamperCases } from './tamper.contract.js';
import { verifyAudit } from './verify.js';

/** The tamper cases on a SQLite store; `spanEvery` small puts most events under lookup spans (the default leaves these 200 past them). */
function sqliteTamperCases(name: string, spanEvery?: number): void {
  runTamperCases(name, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-tamper-sqlite-'));
    const file = join(dir, 'latchkey.db');
    const store = await openSqliteStore({ file, ...(spanEvery !== undefined && { spanEvery }) });
    await store.migrate();
    // A second connection to the same file: the intruder's.
    const db = new Database(file);
    return {
      store,
      async sql(text, params = []) {
        const statement = db.prepare(text);
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      },
      async dropGuards() {
        db.exec('DROP TRIGGER audit_events_append_only; DROP TRIGGER audit_checkpoints_append_only');
      },
      lookupTables: ['audit_spans', 'audit_token_spans'],
      async close() {
        db.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

sqliteTamperCases('SQLite');
sqliteTamperCases('SQLite, lookup spans every 30 events', 30);

// SQLite finds a token's events (migration 6) and a time window's (migration
// 7) through spans, outside the hash chain: an intruder who deletes, shortens
// or narrows one must not hide those events from `audit query --token-id` or
// `--from`/`--to` without `audit verify` saying so.
type SqliteStoreOf = Awaited<ReturnType<typeof openSqliteStore>>;

/**
 * A store of 110 events: four appends of 25 that each write the lookup spans
 * (spanEvery 25: 1-25, 26-50, 51-75, 76-100), then one of 10 (101-110) that
 * stays past them; a second connection (the intruder's) and a verifier, for one case.
 */
async function withSpannedLog(run: (store: SqliteStoreOf, db: Database.Database, verify: () => ReturnType<typeof verifyAudit>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-tamper-spans-'));
  const file = join(dir, 'latchkey.db');
  const store = await openSqliteStore({ file, spanEvery: 25 });
  const db = new Database(file);
  try {
    await store.migrate();
    for (const [from, size] of [[1, 25], [26, 25], [51, 25], [76, 25], [101, 10]] as const) {
      await store.appendAudit(Array.from({ length: size }, (_, i) => decisionInput(from + i)));
    }
    const key = generateKeyPairSync('ed25519');
    const verify = () => verifyAudit(store, { publicKey: key.publicKey });
    expect(await verify()).toMatchObject({ ok: true, events: 110 });
    await run(store, db, verify);
  } finally {
    db.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const spansOf = (db: Database.Database) => (db.prepare('SELECT * FROM audit_spans ORDER BY first_seq').all() as Array<Record<string, number>>);

describe('SQLite token and time spans', () => {
  it('an event no span of its token covers is reported as edited, at its seq', () =>
    withSpannedLog(async (store, db, verify) => {
      // tok_1's span in the fourth append (seqs 76-100): its events there are 78, 89 and 100.
      const span = db.prepare("SELECT * FROM audit_token_spans WHERE token_id = 'tok_1' AND first_seq > 75 AND first_seq <= 100").get() as Record<string, number>;
      expect(span).toMatchObject({ first_seq: 78, last_seq: 100 });
      expect(await store.readAudit({ tokenId: 'tok_1', afterSeq: 75, limit: 10 })).toHaveLength(3);
      db.prepare('DELETE FROM audit_token_spans WHERE token_id = ? AND first_seq = ?').run('tok_1', 78);
      expect(await store.readAudit({ tokenId: 'tok_1', afterSeq: 75, limit: 10 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 78, problem: 'edited' });
      // Shortened instead of deleted: the event past its new end.
      db.prepare('INSERT INTO audit_token_spans (token_id, first_seq, last_seq, min_time, max_time) VALUES (?, ?, ?, ?, ?)').run('tok_1', 78, 78, span.min_time, span.max_time);
      expect(await verify()).toMatchObject({ ok: false, seq: 89, problem: 'edited' });
      db.prepare('UPDATE audit_token_spans SET last_seq = 100 WHERE token_id = ? AND first_seq = ?').run('tok_1', 78);
      expect(await verify()).toMatchObject({ ok: true, events: 110 });
      // Narrowed in time: event 100 (the span's latest) falls out of any window that holds only its time.
      db.prepare('UPDATE audit_token_spans SET max_time = ? WHERE token_id = ? AND first_seq = ?').run(span.max_time - 1, 'tok_1', 78);
      expect(await store.readAudit({ tokenId: 'tok_1', fromTime: span.max_time, toTime: span.max_time + 1, limit: 10 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 100, problem: 'edited', detail: expect.stringContaining('by its token') });
    }));

  it('an event its time span does not cover, in seqs or in time, is reported as edited, at its seq', () =>
    withSpannedLog(async (store, db, verify) => {
      const spans = spansOf(db);
      expect(spans.map((s) => [s.first_seq, s.last_seq])).toEqual([[1, 25], [26, 50], [51, 75], [76, 100]]);
      const second = spans[1]!;
      const inWindow = () => store.readAudit({ fromTime: second.min_time, toTime: second.max_time + 1, limit: 100 });
      expect((await inWindow()).map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => 26 + i));
      const put = (span: Record<string, number>) => {
        db.prepare('DELETE FROM audit_spans WHERE first_seq = ?').run(second.first_seq);
        db.prepare('INSERT INTO audit_spans (first_seq, last_seq, min_time, max_time) VALUES (?, ?, ?, ?)').run(span.first_seq, span.last_seq, span.min_time, span.max_time);
      };
      // Deleted: the window's events vanish from a read, and verify names the first.
      db.prepare('DELETE FROM audit_spans WHERE first_seq = ?').run(26);
      expect(await inWindow()).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 26, problem: 'edited', detail: expect.stringContaining('by its time') });
      // Shortened: the events past its new end.
      put({ ...second, last_seq: 35 });
      expect(await inWindow()).toHaveLength(10);
      expect(await verify()).toMatchObject({ ok: false, seq: 36, problem: 'edited' });
      // Narrowed in time, at either end.
      put({ ...second, min_time: second.min_time + 1 });
      expect(await store.readAudit({ fromTime: second.min_time, toTime: second.min_time + 1, limit: 100 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 26, problem: 'edited' });
      put({ ...second, max_time: second.max_time - 1 });
      expect(await store.readAudit({ fromTime: second.max_time, toTime: second.max_time + 1, limit: 100 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 50, problem: 'edited' });
      put(second);
      expect(await verify()).toMatchObject({ ok: true, events: 110 });
    }));

  it('deleting the last spans hides nothing: their events are read past the spans, once, and the next group of appends spans them afresh', () =>
    withSpannedLog(async (store, db, verify) => {
      const all = await store.readAudit({ limit: 1000 });
      const ofToken = (token: string) => all.filter((e) => e.kind === 'decision' && e.detail.tokenId === token);
      const reads = async () => ({
        tok1: await store.readAudit({ tokenId: 'tok_1', limit: 100 }),
        tok3: await store.readAudit({ tokenId: 'tok_3', afterSeq: 40, limit: 100 }),
        window: await store.readAudit({ fromTime: all[59]!.time, toTime: all[104]!.time, limit: 100 }),
      });
      const expected = { tok1: ofToken('tok_1'), tok3: ofToken('tok_3').filter((e) => e.seq > 40), window: all.slice(59, 104) };
      expect(await reads()).toEqual(expected);
      // The last time span shortened to end at 85, inside tok_1's span of 78-100: 89 and 100 are read past the spans, and once.
      db.prepare('UPDATE audit_spans SET last_seq = 85 WHERE first_seq = 76').run();
      expect(await reads()).toEqual(expected);
      expect(await verify()).toMatchObject({ ok: true, events: 110 });
      db.prepare('UPDATE audit_spans SET last_seq = 100 WHERE first_seq = 76').run();
      // The intruder deletes the last two time spans, and leaves the token spans past them.
      db.prepare('DELETE FROM audit_spans WHERE first_seq > 50').run();
      expect(spansOf(db).at(-1)).toMatchObject({ last_seq: 50 });
      expect(await reads()).toEqual(expected);
      // Nothing is hidden from a lookup, so verify has nothing to report; the chain still holds.
      expect(await verify()).toMatchObject({ ok: true, events: 110 });
      // The next append that completes a group spans every event since seq 50: the leftover token spans are gone, none overlaps.
      await store.appendAudit(Array.from({ length: 25 }, (_, i) => decisionInput(111 + i)));
      expect(spansOf(db).map((s) => [s.first_seq, s.last_seq])).toEqual([[1, 25], [26, 50], [51, 135]]);
      const tokenSpans = db.prepare("SELECT first_seq, last_seq FROM audit_token_spans WHERE token_id = 'tok_1' ORDER BY first_seq").all();
      // tok_1's events are every 11th seq from 1, but for multiples of 7 (56, 133), which carry no token.
      expect(tokenSpans).toEqual([{ first_seq: 1, last_seq: 23 }, { first_seq: 34, last_seq: 45 }, { first_seq: 67, last_seq: 122 }]);
      const grown = await store.readAudit({ limit: 1000 });
      expect(await store.readAudit({ tokenId: 'tok_1', limit: 100 })).toEqual(grown.filter((e) => e.kind === 'decision' && e.detail.tokenId === 'tok_1'));
      expect(await verify()).toMatchObject({ ok: true, events: 135 });
    }));
});
