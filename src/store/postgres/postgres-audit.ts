// Appending to the audit chain inside a PostgreSQL transaction.
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { GENESIS_HASH, linkForStore } from '../../audit/chain.js';
import type { AuditEvent, AuditEventInput } from '../../audit/event.js';
import { AUDIT_COLUMNS, auditValues } from '../rows.js';

/**
 * Advisory lock key ("LKAU") taken by every append, from every process on the
 * database: appenders queue on it, so each reads the head the previous one
 * committed and the chain keeps one total order with no gaps and no forks.
 */
export const AUDIT_LOCK = 0x4c4b4155;

// Multi-row VALUES, one parameter a value: pg sends each as plain text, where
// unnest's array parameters had every detail re-escaped into an array literal
// (measured: about a fifth more events/s). Full chunks use one statement,
// prepared once per connection; the rest of a batch gets a statement of its size.
// A chunk is the recorder's whole batch (1,000 rows, 10,000 parameters of the
// 65,535 allowed): one round trip instead of ten took the recorder from 62,000
// to 72,000-75,000 events/s (`npm run bench -- audit`, same session).
const CHUNK = 1000;
const CHUNK_STATEMENT = 'latchkey_audit_append_1000';

function insertRows(count: number): string {
  const width = AUDIT_COLUMNS.length;
  const tuples: string[] = [];
  for (let r = 0; r < count; r++) {
    tuples.push(`(${AUDIT_COLUMNS.map((_, i) => `$${r * width + i + 1}`).join(', ')})`);
  }
  return `INSERT INTO audit_events (${AUDIT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
}

const INSERT_CHUNK = insertRows(CHUNK);

// A batch of COPY_FROM rows or more goes in by COPY ... FROM STDIN instead:
// PostgreSQL parses no statement and no parameters for it, and this process
// builds one text instead of 10,000 parameters (`npm run bench -- audit`,
// two runs each, alternating with the multi-row INSERT: appendAudit 73,000
// and 65,000 events/s before, 79,000 and 84,000 after; through the recorder
// 65,000 and 63,000 before, 68,000 and 76,000 after). A COPY takes two round
// trips to an INSERT's one, so smaller batches (a gateway's few dozen events,
// an admin change's one) keep the INSERT.
const COPY_FROM = 64;
const COPY_SQL = `COPY audit_events (${AUDIT_COLUMNS.join(', ')}) FROM STDIN`;
const COPY_SPECIAL = /[\\\t\n\r]/;
const EVERY_COPY_SPECIAL = new RegExp(COPY_SPECIAL.source, 'g');
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * A value in COPY's text format: null as \N, a number as its digits, any
 * other value as its text (an object as its JSON), with backslash, tab,
 * newline and carriage return escaped, the only characters the format gives
 * a meaning.
 */
function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return COPY_SPECIAL.test(text) ? text.replace(EVERY_COPY_SPECIAL, (special) => COPY_ESCAPES[special]!) : text;
}

async function copyRows(client: pg.ClientBase, events: readonly AuditEvent[], details: readonly string[]): Promise<void> {
  let data = '';
  for (let e = 0; e < events.length; e++) {
    const row = auditValues(events[e]!, details[e]);
    let line = copyText(row[0]);
    for (let i = 1; i < row.length; i++) line += `\t${copyText(row[i])}`;
    data += `${line}\n`;
  }
  const copy = client.query(copyFrom(COPY_SQL));
  // 'finish' comes once PostgreSQL has taken every row (its ReadyForQuery); a refused row is an 'error'.
  // The listener stays: an error after the outcome is known must not be thrown as an unhandled 'error'.
  await new Promise<void>((resolve, reject) => {
    copy.on('error', reject);
    copy.once('finish', resolve);
    copy.end(data);
  });
}

export async function auditHeadOf(client: pg.ClientBase | pg.Pool): Promise<{ seq: number; hash: string }> {
  const head = await client.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  return head.rows[0] ?? { seq: 0, hash: GENESIS_HASH };
}

/** Links inputs onto the chain and inserts them; the caller's transaction releases the lock when it ends. */
export async function appendEvents(client: pg.ClientBase, inputs: readonly AuditEventInput[]): Promise<AuditEvent[]> {
  await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [AUDIT_LOCK]);
  const head = await auditHeadOf(client);
  const { events, details } = linkForStore(head.seq, head.hash, inputs);
  if (events.length >= COPY_FROM) {
    await copyRows(client, events, details);
    return events;
  }
  for (let from = 0; from < events.length; from += CHUNK) {
    const to = Math.min(events.length, from + CHUNK);
    const values: unknown[] = [];
    for (let e = from; e < to; e++) {
      const row = auditValues(events[e]!, details[e]);
      for (let i = 0; i < row.length; i++) values.push(row[i]);
    }
    await client.query(to - from === CHUNK ? { name: CHUNK_STATEMENT, text: INSERT_CHUNK, values } : { text: insertRows(to - from), values });
  }
  return events;
}
