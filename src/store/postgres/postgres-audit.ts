// Appending to the audit chain inside a PostgreSQL transaction.
import type pg from 'pg';
import { GENESIS_HASH, linkForStore } from '../../audit/chain.js';
import type { AuditEvent, AuditEventInput } from '../../audit/event.js';
import { AUDIT_COLUMNS, auditValues } from '../rows.js';

/**
 * Advisory lock key ("LKAU") taken by every append, from every process on the
 * database: appenders queue on it, so each reads the head the previous one
 * committed and the chain keeps one total order with no gaps and no forks.
 */
export const AUDIT_LOCK = 0x4c4b4155;

const COLUMN_TYPES = ['bigint', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];

// One statement per batch, whatever its size: a column of values per parameter, zipped by unnest.
const INSERT_BATCH = `INSERT INTO audit_events (${AUDIT_COLUMNS.join(', ')})
  SELECT * FROM unnest(${COLUMN_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')})`;

export async function auditHeadOf(client: pg.ClientBase | pg.Pool): Promise<{ seq: number; hash: string }> {
  const head = await client.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  return head.rows[0] ?? { seq: 0, hash: GENESIS_HASH };
}

/** Links inputs onto the chain and inserts them; the caller's transaction releases the lock when it ends. */
export async function appendEvents(client: pg.ClientBase, inputs: readonly AuditEventInput[]): Promise<AuditEvent[]> {
  await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [AUDIT_LOCK]);
  const head = await auditHeadOf(client);
  const { events, details } = linkForStore(head.seq, head.hash, inputs);
  const columns: unknown[][] = AUDIT_COLUMNS.map(() => []);
  for (let e = 0; e < events.length; e++) {
    const values = auditValues(events[e]!, details[e]);
    for (let i = 0; i < values.length; i++) columns[i]!.push(values[i]);
  }
  await client.query(INSERT_BATCH, columns);
  return events;
}
