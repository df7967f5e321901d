import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../store/index.js';
import { runTamperCases } from './tamper.contract.js';

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
