// Change feeds keep every node's cache current: in-process (store.onChange),
// PostgreSQL LISTEN/NOTIFY across processes, or Redis pub/sub. Each reports its
// health so a node that may have missed a change fails closed.
export { parseChange, type ChangeFeed, type FeedHandlers } from './feed.js';
export { FeedHealth, ALWAYS_FRESH, FRESH, DEGRADED, STALE, type Freshness, type FeedHealthView } from './feed-health.js';
export { LocalFeed } from './local-feed.js';
export { PostgresFeed, type PostgresFeedOptions } from './postgres-feed.js';
export { RedisFeed, createRedisChangePublisher, REDIS_CHANGE_CHANNEL, type RedisFeedOptions, type RedisChangePublisher } from './redis-feed.js';
