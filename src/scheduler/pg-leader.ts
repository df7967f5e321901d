import pg from 'pg';
import type { Logger } from 'pino';
import type { Leadership } from './scheduler.js';

// One scheduler among processes sharing PostgreSQL: a session advisory lock
// held on a connection of its own. Whoever holds it leads; if that process
// dies its connection closes, the lock is released, and the next run of
// another process takes it.

/** Arbitrary but fixed: "latchkey scheduler". */
const LOCK_KEY = 0x1a7c4e5;

export class PostgresLeadership implements Leadership {
  readonly #url: string;
  readonly #logger: Logger;
  #client: pg.Client | null = null;
  #leading = false;

  constructor(url: string, logger: Logger) {
    this.#url = url;
    this.#logger = logger;
  }

  async isLeader(): Promise<boolean> {
    try {
      if (this.#client === null) {
        const client = new pg.Client({ connectionString: this.#url });
        client.on('error', (err) => {
          this.#logger.warn({ err: err.message }, 'scheduler leadership connection lost');
          this.#leading = false;
          this.#client = null;
        });
        await client.connect();
        this.#client = client;
        this.#leading = false;
      }
      if (!this.#leading) {
        const result = await this.#client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [LOCK_KEY]);
        this.#leading = result.rows[0]?.locked === true;
      }
      return this.#leading;
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'could not ask for scheduler leadership; not leading this time');
      await this.close();
      return false;
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    this.#leading = false;
    await client?.end().catch(() => {});
  }
}
