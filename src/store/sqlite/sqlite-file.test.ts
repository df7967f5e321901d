// What only the SQLite store promises: the file on disk (WAL included) holds
// hashes and never a plaintext token, its settings persist, and a second
// connection migrating the same file at the same moment is waited for.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { generateToken, TokenHasher } from '../../token/index.js';
import { ALICE, aRole, aToken, allAudit, decisions, withEnvironments } from '../contract/fixtures.js';
import { openStore } from '../index.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite.js';
import { auditReadQuery } from '../queries.js';
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
    const store = await openSqliteStore({ file });
    await store.migrate();
    await store.appendAudit(decisions(12));
    await store.appendAudit(decisions(9, 12));
    const all = await allAudit(store);
    await store.close();
    // The file as version 5 left it: the index on (token_id, seq), no spans.
    const raw = new Database(file);
    raw.exec("DROP TABLE audit_token_spans; CREATE INDEX audit_events_token ON audit_events (token_id, seq); DELETE FROM schema_migrations WHERE version = 6");
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
      expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'").all()).toEqual([{ name: 'audit_events_time' }]);
    } finally {
      check.close();
    }
  });

  it("reads a token's events by walking its spans in order, with no sort", async () => {
    const file = tempFile();
    const store = await openSqliteStore({ file });
    await store.migrate();
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      const query = auditReadQuery({ tokenId: 'tok_1', afterSeq: 5, fromTime: 1, toTime: 9, decision: 'allow', limit: 10 }, 'sqlite');
      const plan = raw.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.values).map((row) => (row as { detail: string }).detail);
      expect(plan[0]).toMatch(/^SEARCH s USING PRIMARY KEY \(token_id=\? AND first_seq>\?\)/);
      expect(plan.some((step) => /^SEARCH a USING INTEGER PRIMARY KEY/.test(step))).toBe(true);
      // A sort would read every matching event before the LIMIT applies.
      expect(plan.join('\n')).not.toMatch(/TEMP B-TREE|audit_events_time/);
    } finally {
      raw.close();
    }
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
