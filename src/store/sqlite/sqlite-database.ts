// Opening the SQLite file with the settings Latchkey relies on, applying
// migrations, and translating SQLite failures into Latchkey's error codes.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { LatchkeyError } from '../../errors/index.js';
import { pendingMigrations } from '../migrations/migration.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite.js';

/** How long a writer waits for another connection's write lock before giving up with `store_unavailable`. */
export const BUSY_TIMEOUT_MS = 5000;

/** The database and its -wal/-shm hold token hashes and the audit trail: owner only, whatever the umask or directory. */
export const SQLITE_FILE_MODE = 0o600;

function ownerOnly(file: string): void {
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path)) chmodSync(path, SQLITE_FILE_MODE);
  }
}

export function openDatabase(file: string): Database.Database {
  const onDisk = file !== ':memory:' && file !== '';
  if (onDisk) {
    // 0700: the directory also holds the server keys.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Created 0600 before SQLite opens it (SQLite would use 0644 less the umask), and put right if it
    // already existed. SQLite gives -wal and -shm the database file's mode when it creates them.
    closeSync(openSync(file, 'a', SQLITE_FILE_MODE));
    ownerOnly(file);
  }
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (error) {
    throw storeError(error);
  }
  try {
    // busy_timeout first, so the pragmas below wait for a process that is migrating.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // -wal and -shm exist now; ones left by an older version may have been 0644.
    if (onDisk) ownerOnly(file);
  } catch (error) {
    db.close();
    throw storeError(error);
  }
  return db;
}

/**
 * BEGIN IMMEDIATE takes the write lock before reading which versions are
 * applied, so a second process opening the store at the same moment waits and
 * then finds nothing left to do.
 */
export function migrateSqlite(db: Database.Database, now: number): void {
  const apply = db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    const rows = db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[];
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of pendingMigrations(SQLITE_MIGRATIONS, new Set(rows.map((row) => row.version)))) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now);
    }
  });
  try {
    apply.immediate();
  } catch (error) {
    throw storeError(error);
  }
}

// SQLite codes that mean the file cannot be used right now, not that the request was wrong.
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|CORRUPT|NOTADB|PROTOCOL)/;

/** Maps a SQLite failure to a LatchkeyError; anything unrecognized passes through unchanged. */
export function storeError(error: unknown): unknown {
  if (error instanceof LatchkeyError) return error;
  if (error instanceof Database.SqliteError) {
    if (UNAVAILABLE.test(error.code)) return new LatchkeyError('store_unavailable', undefined, { cause: error });
    if (error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      return new LatchkeyError('invalid_request', 'a referenced environment or parent token does not exist', { cause: error });
    }
    if (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || error.code === 'SQLITE_CONSTRAINT_UNIQUE') {
      return new LatchkeyError('conflict', undefined, { cause: error });
    }
  }
  // better-sqlite3 throws a TypeError once the connection is closed.
  if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
    return new LatchkeyError('store_unavailable', undefined, { cause: error });
  }
  return error;
}

/** Runs synchronous store work, translating what it throws. */
export function guarded<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw storeError(error);
  }
}
