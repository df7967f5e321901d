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
    async close() {
      db.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// SQLite finds a token's events through spans (migration 6), outside the hash
// chain: an intruder who deletes or shortens one must not hide those events
// from `audit query --token-id` without `audit verify` saying so.
describe('SQLite token spans', () => {
  it('an event no span of its token covers is reported as edited, at its seq', async () => {
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
    } finally {
      db.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
