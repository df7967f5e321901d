import pg from 'pg';
import { CHANGE_CHANNEL } from '../../store/store.js';
import { parseChange, type ChangeFeed, type FeedHandlers, type RemoteFeedOptions } from './feed.js';
import { FeedHealth } from './feed-health.js';

export type PostgresFeedOptions = RemoteFeedOptions;

/**
 * PostgreSQL LISTEN on a dedicated connection (a pooled one would lose the
 * subscription when returned). The store sends NOTIFY inside each mutation's
 * transaction, so a change arrives exactly when it commits. The connection is
 * probed with a heartbeat so a silent network failure is noticed, and it is
 * re-established with backoff; after a reconnect the node resyncs.
 */
export class PostgresFeed implements ChangeFeed {
  readonly kind = 'postgres' as const;
  readonly health: FeedHealth;
  readonly #options: PostgresFeedOptions;
  readonly #heartbeatMs: number;
  readonly #clock: () => number;
  #handlers: FeedHandlers | null = null;
  #client: pg.Client | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  #backoffMs = 50;
  #everConnected = false;
  #closed = false;

  constructor(options: PostgresFeedOptions) {
    this.#options = options;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#clock = options.clock ?? Date.now;
    this.health = new FeedHealth(this.#heartbeatMs * 3, options.maxStalenessMs);
  }

  /** Resolves after the first attempt; if it failed, the node starts degraded and keeps trying. */
  async start(handlers: FeedHandlers): Promise<void> {
    this.#handlers = handlers;
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#options.url,
      connectionTimeoutMillis: Math.max(1000, this.#heartbeatMs * 2),
      query_timeout: Math.max(1000, this.#heartbeatMs * 2),
      keepAlive: true,
      application_name: 'latchkey-gateway-feed',
    });
    this.#client = client;
    client.on('notification', (message) => {
      if (message.channel !== CHANGE_CHANNEL) return;
      this.health.event(this.#clock());
      const change = message.payload === undefined ? undefined : parseChange(message.payload);
      if (change === undefined) {
        this.#options.logger.warn('unreadable change notification; dropping every cached token');
        this.#handlers?.onResync();
      } else this.#handlers?.onChange(change);
    });
    client.on('error', (err) => this.#lost(client, err.message));
    client.on('end', () => this.#lost(client, 'connection ended'));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      this.#lost(client, (err as Error).message);
      return;
    }
    if (this.#closed || this.#client !== client) return;
    this.health.confirm(this.#clock());
    this.#backoffMs = 50;
    if (this.#everConnected) {
      this.#options.logger.info('change feed reconnected; cache flushed');
      // LISTEN is in place before the flush, so nothing falls between the two.
      this.#handlers?.onResync();
    }
    this.#everConnected = true;
    this.#heartbeat = setInterval(() => this.#beat(client), this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  #beat(client: pg.Client): void {
    const sent = this.#clock();
    client.query('SELECT 1').then(
      () => {
        // Confirms only what was true when the probe was sent.
        if (this.#client === client) this.health.confirm(sent);
      },
      (err: Error) => this.#lost(client, err.message),
    );
  }

  #lost(client: pg.Client, why: string): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.health.lost();
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    client.removeAllListeners('end');
    client.on('error', () => {});
    client.end().catch(() => {});
    if (this.#closed) return;
    this.#options.logger.warn({ reason: why }, 'change feed lost; serving cached tokens within the staleness bound');
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect();
    }, this.#backoffMs);
    this.#retry.unref();
    this.#backoffMs = Math.min(this.#backoffMs * 2, 2000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    const client = this.#client;
    this.#client = null;
    if (client !== null) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}
