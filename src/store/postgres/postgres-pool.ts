// The connection pool, its failures as Latchkey errors, and transactions.
// An unreachable database must become `store_unavailable` quickly, so that
// callers fail closed with 503 instead of hanging.
import pg from 'pg';
import { LatchkeyError } from '../../errors/index.js';

export const CONNECT_TIMEOUT_MS = 2000;

const INT8_OID = 20;

/**
 * int8 (bigint: times, seq) parsed as a JS number for this pool only, leaving
 * pg's global parsers alone for other code. Every int8 Latchkey stores is a safe integer.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function createPool(url: string, poolSize: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: TYPES,
    // TCP keepalive, so a database that vanished without closing the connection is noticed.
    keepAlive: true,
    application_name: 'latchkey',
  });
  // An idle connection that drops emits 'error' on the pool; unhandled, it would
  // end the process. The next query on the pool reports the outage instead.
  pool.on('error', () => {});
  return pool;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
// admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections; class 08 is connection_exception.
const SERVER_GONE_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
// pg reports a dropped, timed-out or ended connection only in its message text.
const GONE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client was closed|not queryable/i;

export function isUnavailable(error: unknown): boolean {
  if (error instanceof LatchkeyError) return error.code === 'store_unavailable';
  if (error instanceof AggregateError && error.errors.some(isUnavailable)) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_GONE_CODES.has(code) || code.startsWith('08'))) {
    return true;
  }
  return GONE_MESSAGE.test(error.message);
}

/** Maps a pg failure to a LatchkeyError; anything unrecognized passes through unchanged. */
export function storeError(error: unknown): unknown {
  if (error instanceof LatchkeyError) return error;
  if (isUnavailable(error)) return new LatchkeyError('store_unavailable', undefined, { cause: error });
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '23505') return new LatchkeyError('conflict', undefined, { cause: error });
  if (code === '23503') {
    return new LatchkeyError('invalid_request', 'a referenced environment or parent token does not exist', { cause: error });
  }
  return error;
}

// deadlock_detected and serialization_failure: the transaction did nothing and may simply be run again.
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 3;

/** Runs work in one transaction on one connection; rolls back on any error and retries deadlocks. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptTransaction(pool, work);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= ATTEMPTS || typeof code !== 'string' || !RETRYABLE.has(code)) throw storeError(error);
    }
  }
}

async function attemptTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    let broken = isUnavailable(error);
    if (!broken) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
    }
    // A broken connection is destroyed rather than returned to the pool.
    client.release(broken);
    throw error;
  }
}

/** One query on the pool, its failure translated. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  pool: pg.Pool,
  config: pg.QueryConfig,
): Promise<R[]> {
  try {
    return (await pool.query<R>(config)).rows;
  } catch (error) {
    throw storeError(error);
  }
}
