import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import { decisionInput, runTamperCases } from './tamper.contract.js';
import { verifyAudit } from './verify.js';

runTamperCases('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-tamper-sqlite-'));
  const file = join(dir, 'latchkey.db');
  const store = await openSqliteStore({ file });
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

// SQLite finds a token's events (migration 6) and a time window's (migration
// 7) through spans, outside the hash chain: an intruder who deletes, shortens
// or narrows one must not hide those events from `audit query --token-id` or
// `--from`/`--to` without `audit verify` saying so.
type SqliteStoreOf = Awaited<ReturnType<typeof openSqliteStore>>;

/** A store of 100 events in four appends of 25, a second connection (the intruder's) and a verifier, for one case. */
async function withSpannedLog(run: (store: SqliteStoreOf, db: Database.Database, verify: () => ReturnType<typeof verifyAudit>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-tamper-spans-'));
  const file = join(dir, 'latchkey.db');
  const store = await openSqliteStore({ file });
  const db = new Database(file);
  try {
    await store.migrate();
    for (let b = 0; b < 4; b++) await store.appendAudit(Array.from({ length: 25 }, (_, i) => decisionInput(b * 25 + i + 1)));
    const key = generateKeyPairSync('ed25519');
    const verify = () => verifyAudit(store, { publicKey: key.publicKey });
    expect(await verify()).toMatchObject({ ok: true, events: 100 });
    await run(store, db, verify);
  } finally {
    db.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('SQLite token and time spans', () => {
  it('an event no span of its token covers is reported as edited, at its seq', () =>
    withSpannedLog(async (store, db, verify) => {
      // tok_3's span in the third append (seqs 51-75): its events there are 58 and 69.
      const span = db.prepare("SELECT * FROM audit_token_spans WHERE token_id = 'tok_3' AND first_seq > 50 AND first_seq <= 75").get() as Record<string, number>;
      expect(span).toMatchObject({ first_seq: 58, last_seq: 69 });
      db.prepare('DELETE FROM audit_token_spans WHERE token_id = ? AND first_seq = ?').run('tok_3', 58);
      expect(await store.readAudit({ tokenId: 'tok_3', afterSeq: 50, limit: 10 })).toHaveLength(1);
      expect(await verify()).toMatchObject({ ok: false, seq: 58, problem: 'edited' });
      // Shortened instead of deleted: the event past its new end.
      db.prepare('INSERT INTO audit_token_spans (token_id, first_seq, last_seq, min_time, max_time) VALUES (?, ?, ?, ?, ?)').run('tok_3', 58, 58, span.min_time, span.max_time);
      expect(await verify()).toMatchObject({ ok: false, seq: 69, problem: 'edited' });
      db.prepare('UPDATE audit_token_spans SET last_seq = 69 WHERE token_id = ? AND first_seq = ?').run('tok_3', 58);
      expect(await verify()).toMatchObject({ ok: true, events: 100 });
      // Narrowed in time: event 69 (the span's latest) falls out of any window that holds only its time.
      db.prepare('UPDATE audit_token_spans SET max_time = ? WHERE token_id = ? AND first_seq = ?').run(span.max_time - 1, 'tok_3', 58);
      expect(await store.readAudit({ tokenId: 'tok_3', fromTime: span.max_time, toTime: span.max_time + 1, limit: 10 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 69, problem: 'edited', detail: expect.stringContaining('by its token') });
    }));

  it('an event its time span does not cover, in seqs or in time, is reported as edited, at its seq', () =>
    withSpannedLog(async (store, db, verify) => {
      const spans = db.prepare('SELECT * FROM audit_spans ORDER BY first_seq').all() as Array<Record<string, number>>;
      expect(spans.map((s) => [s.first_seq, s.last_seq])).toEqual([[1, 25], [26, 50], [51, 75], [76, 100]]);
      const third = spans[2]!;
      const inWindow = () => store.readAudit({ fromTime: third.min_time, toTime: third.max_time + 1, limit: 100 });
      expect((await inWindow()).map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => 51 + i));
      const put = (span: Record<string, number>) => {
        db.prepare('DELETE FROM audit_spans WHERE first_seq = ?').run(third.first_seq);
        db.prepare('INSERT INTO audit_spans (first_seq, last_seq, min_time, max_time) VALUES (?, ?, ?, ?)').run(span.first_seq, span.last_seq, span.min_time, span.max_time);
      };
      // Deleted: the window's events vanish from a read, and verify names the first.
      db.prepare('DELETE FROM audit_spans WHERE first_seq = ?').run(51);
      expect(await inWindow()).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 51, problem: 'edited', detail: expect.stringContaining('by its time') });
      // Shortened: the events past its new end.
      put({ ...third, last_seq: 60 });
      expect(await inWindow()).toHaveLength(10);
      expect(await verify()).toMatchObject({ ok: false, seq: 61, problem: 'edited' });
      // Narrowed in time, at either end.
      put({ ...third, min_time: third.min_time + 1 });
      expect(await store.readAudit({ fromTime: third.min_time, toTime: third.min_time + 1, limit: 100 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 51, problem: 'edited' });
      put({ ...third, max_time: third.max_time - 1 });
      expect(await store.readAudit({ fromTime: third.max_time, toTime: third.max_time + 1, limit: 100 })).toHaveLength(0);
      expect(await verify()).toMatchObject({ ok: false, seq: 75, problem: 'edited' });
      put(third);
      expect(await verify()).toMatchObject({ ok: true, events: 100 });
    }));
});
