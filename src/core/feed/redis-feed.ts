import type { Logger } from 'pino';
import { Redis } from 'ioredis';
import type { Store } from '../../store/store.js';
import { parseChange, type ChangeFeed, type FeedHandlers, type RemoteFeedOptions } from './feed.js';
import { FeedHealth } from './feed-health.js';

/** Redis pub/sub channel carrying `Change` as JSON, the Redis twin of CHANGE_CHANNEL. */
export const REDIS_CHANGE_CHANNEL = 'latchkey:changes';

export type RedisFeedOptions = RemoteFeedOptions;

/**
 * Redis pub/sub. Pub/sub keeps nothing for a subscriber that was away, so
 * every reconnect resyncs the node. The subscription connection answers PING,
 * which is the heartbeat.
 */
export class RedisFeed implements ChangeFeed {
  readonly kind = 'redis' as const;
  readonly health: FeedHealth;
  readonly #options: RedisFeedOptions;
  readonly #clock: () => number;
  readonly #heartbeatMs: number;
  #redis: Redis | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #everReady = false;

  constructor(options: RedisFeedOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.health = new FeedHealth(this.#heartbeatMs * 3, options.maxStalenessMs);
  }

  async start(handlers: FeedHandlers): Promise<void> {
    const redis = new Redis(this.#options.url, {
      retryStrategy: (times) => Math.min(50 * times, 1000),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    this.#redis = redis;
    redis.on('message', (channel: string, payload: string) => {
      if (channel !== REDIS_CHANGE_CHANNEL) return;
      this.health.event(this.#clock());
      const change = parseChange(payload);
      if (change === undefined) handlers.onResync();
      else handlers.onChange(change);
    });
    redis.on('ready', () => {
      redis.subscribe(REDIS_CHANGE_CHANNEL).then(
        () => {
          this.health.confirm(this.#clock());
          if (this.#everReady) {
            this.#options.logger.info('redis change feed reconnected; cache flushed');
            handlers.onResync();
          }
          this.#everReady = true;
        },
        (err: Error) => this.#options.logger.warn({ err: err.message }, 'redis change feed could not subscribe'),
      );
    });
    redis.on('close', () => {
      if (this.health.connected) this.#options.logger.warn('redis change feed lost; serving cached tokens within the staleness bound');
      this.health.lost();
    });
    redis.on('error', () => this.health.lost());
    this.#heartbeat = setInterval(() => {
      if (redis.status !== 'ready') return;
      const sent = this.#clock();
      redis.ping().then(
        () => {
          if (redis.status === 'ready') this.health.confirm(sent);
        },
        () => this.health.lost(),
      );
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
    await redis.connect().catch((err: Error) => this.#options.logger.warn({ err: err.message }, 'redis change feed unavailable at start'));
    // Wait briefly for the subscription so a node started with a healthy Redis starts fresh.
    for (let i = 0; i < 50 && !this.health.connected && redis.status === 'ready'; i++) await new Promise((r) => setTimeout(r, 10));
  }

  async close(): Promise<void> {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    // A deliberate close is not a lost feed: no warning.
    this.#redis?.removeAllListeners('close');
    this.#redis?.disconnect();
    this.#redis = null;
  }
}

export interface RedisChangePublisher {
  close(): Promise<void>;
}

/**
 * Forwards the changes committed through `store` to Redis, for gateway nodes
 * that follow the Redis feed. Run it in the process that makes the changes
 * (the admin API). Publishes are queued while Redis reconnects; a change
 * published while a node is disconnected is covered by that node's resync.
 */
export function createRedisChangePublisher(options: { url: string; store: Store; logger: Logger }): RedisChangePublisher {
  const redis = new Redis(options.url, { retryStrategy: (times) => Math.min(50 * times, 1000) });
  redis.on('error', () => {});
  const unsubscribe = options.store.onChange((change) => {
    redis.publish(REDIS_CHANGE_CHANNEL, JSON.stringify(change)).catch((err: Error) => {
      options.logger.error({ err: err.message, change: change.type }, 'could not publish a change to redis');
    });
  });
  return {
    async close() {
      unsubscribe();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
