// Everything Latchkey persists, behind one Store interface with two implementations:
// embedded SQLite (the default, a file in the data directory) and PostgreSQL
// (shared by many gateway processes). Both pass the contract in store.contract.ts.
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export type * from './store.js';
export { CHANGE_CHANNEL } from './store.js';
export type * from './records.js';
export { SERVICE_KINDS, SYSTEM_ACTOR } from './records.js';
export { MAX_TOKEN_PAGE } from './token-cursor.js';
export { MAX_AUDIT_PAGE } from './queries.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { openPostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';

export interface OpenStoreOptions {
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
  /** Clock for audit times and status changes; tests freeze it. */
  readonly now?: () => number;
  /** SQLite: checkpoint the write-ahead log from a worker thread (long-running processes; see sqlite/wal-checkpointer.ts). */
  readonly backgroundCheckpoints?: boolean;
  /** SQLite: told if that worker fails. */
  readonly onCheckpointFailure?: (error: Error) => void;
}

/**
 * Opens the store at `location` and applies pending migrations: a
 * `postgres://` or `postgresql://` URL selects PostgreSQL, anything else is the
 * path of a SQLite file (its directory is created when missing).
 */
export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    return openPostgresStore({ url: location, ...options });
  }
  return openSqliteStore({
    file: location, now: options.now, backgroundCheckpoints: options.backgroundCheckpoints ?? false,
    ...(options.onCheckpointFailure !== undefined && { onCheckpointFailure: options.onCheckpointFailure }),
  });
}

/** An onCheckpointFailure that logs the failure once, as an error (the store goes on, checkpointing inside commits). */
export function checkpointFailureLogger(logger: { error(object: object, message: string): void }): (error: Error) => void {
  return (error) => logger.error({ err: error.message }, 'the SQLite WAL checkpoint worker stopped; checkpoints run inside commits again');
}
