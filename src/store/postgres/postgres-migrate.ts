import type pg from 'pg';
import { pendingMigrations } from '../migrations/migration.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres.js';
import { inTransaction } from './postgres-pool.js';

/** Advisory lock key held while migrating ("LKMG"); any constant unique to Latchkey would do. */
const MIGRATION_LOCK = 0x4c4b4d47;

/**
 * All pending migrations in one transaction (PostgreSQL DDL is transactional)
 * under an advisory lock, so two processes starting at once apply each
 * migration exactly once: the second waits, then finds nothing pending.
 */
export async function migratePostgres(pool: pg.Pool, now: number): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)',
    );
    const applied = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    for (const migration of pendingMigrations(POSTGRES_MIGRATIONS, new Set(applied.rows.map((row) => row.version)))) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        now,
      ]);
    }
  });
}
